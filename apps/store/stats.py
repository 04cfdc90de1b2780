"""Per-partition statistics, kept by the database itself, and the browser's reads.

Triggers on ``store_document`` (installed by migration 0003, for PostgreSQL and
SQLite) add and subtract in ``store_partition_stats`` and
``store_collection_stats`` inside the transaction of every insert, update and
delete, whichever code path wrote: the core, a partition erase, a bulk load.
So an extension's users are counted, sorted and paged from one small row per
user, never by reading the documents table. Each trigger locks the partition's
row before the collection's, so concurrent writes and an erase of the same
partition cannot deadlock.
"""

import datetime
import functools
from dataclasses import dataclass

from django.core import signing

from . import validation
from .connections import DjangoConnection
from .models import CollectionStats, PartitionStats
from .partitions import USERS_LIMIT_DEFAULT, USERS_LIMIT_MAX, _check_id, _like_pattern
from .quota import CHECK_SIGNATURE, POSTGRESQL_QUOTA_CHECK, QUOTA_SETTING

PARTITIONS = PartitionStats._meta.db_table
COLLECTIONS = CollectionStats._meta.db_table
SORTS = {
    "user": "user_id",
    "documents": "documents",
    "bytes": "bytes",
    "last_write": "last_write",
}
CURSOR_SALT = "apps.store.stats.users"
_WHERE = "tenant_id = %s AND app_id = %s"
_PKEY = "tenant_id = {r}.tenant_id AND app_id = {r}.app_id AND user_id = {r}.user_id"
_CKEY = _PKEY + " AND collection = {r}.collection"

# Statement-level triggers over the statement's transition table: a write adds
# one aggregated upsert per partition and collection, whatever its row count.
# Row-level triggers would update one stats row once per document, and a bulk
# INSERT of 100,000 documents into one partition then stalls on the row's
# ever-longer version chain. Partition rows are locked before collection rows,
# in key order, so concurrent writes and an erase of one partition cannot deadlock.
_P_BY = "tenant_id, app_id, user_id"
_C_BY = _P_BY + ", collection"
_PJOIN = "p.tenant_id = d.tenant_id AND p.app_id = d.app_id AND p.user_id = d.user_id"
_CJOIN = _PJOIN.replace("p.", "c.") + " AND c.collection = d.collection"
# A document's bytes: its JSON text as the database renders it.
PG_BYTES = "octet_length(data::text)"
SQLITE_BYTES = "length(CAST({r}.data AS BLOB))"
# The write's quota, when it has one (apps.store.quota): the transaction-local
# setting its statement set. The partition's row, as the upsert left it (locked
# until commit), is checked against it: the trigger refuses a write that passes it.
_GET_QUOTA = f"q := nullif(current_setting('{QUOTA_SETTING}', true), '')::jsonb;"
_OF_QUOTA = (
    "q IS NOT NULL AND up.tenant_id = q->>'tenant_id' AND up.app_id = q->>'app_id' "
    "AND up.user_id = q->>'user_id'"
)
_CHECK = """
    IF q IS NOT NULL THEN
        PERFORM store_quota_check(q, added_n, added_b, held_n, held_b);
    END IF;"""
_DECLARE = (
    "DECLARE q jsonb; added_n bigint; added_b bigint; held_n bigint; held_b bigint;"
)
POSTGRESQL_TRIGGERS = f"""
{POSTGRESQL_QUOTA_CHECK}

CREATE OR REPLACE FUNCTION store_stats_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
{_DECLARE}
BEGIN
    {_GET_QUOTA}
    WITH w AS (
        SELECT {_P_BY}, count(*) AS n, sum({PG_BYTES}) AS b, max(updated_at) AS at
        FROM new_docs GROUP BY {_P_BY}
    ), up AS (
        INSERT INTO {PARTITIONS} AS p ({_P_BY}, documents, bytes, collections, last_write)
        SELECT {_P_BY}, n, b, 0, at FROM w ORDER BY {_P_BY}
        ON CONFLICT (tenant_id, app_id, user_id) DO UPDATE
            SET documents = p.documents + EXCLUDED.documents,
                bytes = p.bytes + EXCLUDED.bytes,
                last_write = GREATEST(p.last_write, EXCLUDED.last_write)
        RETURNING {_P_BY}, documents, bytes
    )
    SELECT w.n, w.b, up.documents, up.bytes INTO added_n, added_b, held_n, held_b
    FROM up JOIN w USING (tenant_id, app_id, user_id) WHERE {_OF_QUOTA};
    WITH added AS (
        INSERT INTO {COLLECTIONS} AS c ({_C_BY}, documents)
        SELECT {_C_BY}, count(*) FROM new_docs GROUP BY {_C_BY} ORDER BY {_C_BY}
        ON CONFLICT (tenant_id, app_id, user_id, collection) DO UPDATE
            SET documents = c.documents + EXCLUDED.documents
        -- xmax is 0 on a row the upsert inserted: a collection new to its user.
        RETURNING {_P_BY}, (xmax = 0) AS created
    ), d AS (
        SELECT {_P_BY}, count(*) AS n FROM added WHERE created GROUP BY {_P_BY}
    )
    UPDATE {PARTITIONS} AS p SET collections = p.collections + d.n FROM d
    WHERE {_PJOIN};{_CHECK}
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION store_stats_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE {PARTITIONS} AS p SET documents = p.documents - d.n, bytes = p.bytes - d.b
    FROM (SELECT {_P_BY}, count(*) AS n, sum({PG_BYTES}) AS b FROM old_docs
          GROUP BY {_P_BY}) AS d
    WHERE {_PJOIN};
    WITH taken AS (
        UPDATE {COLLECTIONS} AS c SET documents = c.documents - d.n
        FROM (SELECT {_C_BY}, count(*) AS n FROM old_docs GROUP BY {_C_BY}) AS d
        WHERE {_CJOIN}
        RETURNING c.tenant_id, c.app_id, c.user_id, c.documents
    ), d AS (
        SELECT {_P_BY}, count(*) AS n FROM taken WHERE documents <= 0
        GROUP BY {_P_BY}
    )
    UPDATE {PARTITIONS} AS p SET collections = p.collections - d.n FROM d
    WHERE {_PJOIN};
    DELETE FROM {COLLECTIONS} AS c USING (SELECT DISTINCT {_C_BY} FROM old_docs) AS d
    WHERE {_CJOIN} AND c.documents <= 0;
    DELETE FROM {PARTITIONS} AS p USING (SELECT DISTINCT {_P_BY} FROM old_docs) AS d
    WHERE {_PJOIN} AND p.documents <= 0;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION store_stats_update() RETURNS trigger
LANGUAGE plpgsql AS $$
{_DECLARE}
BEGIN
    {_GET_QUOTA}
    WITH w AS (
        SELECT {_P_BY}, max(at) AS at, sum(b) AS b FROM (
            SELECT {_P_BY}, updated_at AS at, {PG_BYTES} AS b FROM new_docs
            UNION ALL SELECT {_P_BY}, NULL, -{PG_BYTES} FROM old_docs) AS rows
        GROUP BY {_P_BY}
    ), up AS (
        UPDATE {PARTITIONS} AS p SET last_write = GREATEST(p.last_write, w.at),
            bytes = p.bytes + w.b
        FROM w WHERE p.tenant_id = w.tenant_id AND p.app_id = w.app_id
            AND p.user_id = w.user_id
        RETURNING p.tenant_id, p.app_id, p.user_id, p.documents, p.bytes
    )
    SELECT 0, w.b, up.documents, up.bytes INTO added_n, added_b, held_n, held_b
    FROM up JOIN w USING (tenant_id, app_id, user_id) WHERE {_OF_QUOTA};{_CHECK}
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS store_stats_insert ON store_document;
DROP TRIGGER IF EXISTS store_stats_delete ON store_document;
DROP TRIGGER IF EXISTS store_stats_update ON store_document;
CREATE TRIGGER store_stats_insert AFTER INSERT ON store_document
    REFERENCING NEW TABLE AS new_docs
    FOR EACH STATEMENT EXECUTE FUNCTION store_stats_insert();
CREATE TRIGGER store_stats_delete AFTER DELETE ON store_document
    REFERENCING OLD TABLE AS old_docs
    FOR EACH STATEMENT EXECUTE FUNCTION store_stats_delete();
CREATE TRIGGER store_stats_update AFTER UPDATE ON store_document
    REFERENCING OLD TABLE AS old_docs NEW TABLE AS new_docs
    FOR EACH STATEMENT EXECUTE FUNCTION store_stats_update();
"""
POSTGRESQL_DROP = f"""
DROP TRIGGER IF EXISTS store_stats_insert ON store_document;
DROP TRIGGER IF EXISTS store_stats_delete ON store_document;
DROP TRIGGER IF EXISTS store_stats_update ON store_document;
DROP FUNCTION IF EXISTS store_stats_insert();
DROP FUNCTION IF EXISTS store_stats_delete();
DROP FUNCTION IF EXISTS store_stats_update();
DROP FUNCTION IF EXISTS {CHECK_SIGNATURE};
"""
# SQLite has one writer at a time, so each trigger may read and then write;
# the quota is checked by the backend inside the write's transaction.
_NEW_BYTES = SQLITE_BYTES.format(r="NEW")
_OLD_BYTES = SQLITE_BYTES.format(r="OLD")
SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER store_stats_insert AFTER INSERT ON store_document BEGIN
    INSERT INTO {PARTITIONS}
        (tenant_id, app_id, user_id, documents, bytes, collections, last_write)
    SELECT NEW.tenant_id, NEW.app_id, NEW.user_id, 0, 0, 0, NEW.updated_at
    WHERE NOT EXISTS (SELECT 1 FROM {PARTITIONS} WHERE {_PKEY.format(r="NEW")});
    INSERT INTO {COLLECTIONS} (tenant_id, app_id, user_id, collection, documents)
    SELECT NEW.tenant_id, NEW.app_id, NEW.user_id, NEW.collection, 0
    WHERE NOT EXISTS (SELECT 1 FROM {COLLECTIONS} WHERE {_CKEY.format(r="NEW")});
    UPDATE {PARTITIONS} SET documents = documents + 1, bytes = bytes + {_NEW_BYTES},
        collections = collections + (SELECT documents = 0 FROM {COLLECTIONS}
            WHERE {_CKEY.format(r="NEW")}),
        last_write = max(last_write, NEW.updated_at)
    WHERE {_PKEY.format(r="NEW")};
    UPDATE {COLLECTIONS} SET documents = documents + 1
    WHERE {_CKEY.format(r="NEW")};
END""",
    f"""CREATE TRIGGER store_stats_delete AFTER DELETE ON store_document BEGIN
    UPDATE {COLLECTIONS} SET documents = documents - 1
    WHERE {_CKEY.format(r="OLD")};
    UPDATE {PARTITIONS} SET documents = documents - 1, bytes = bytes - {_OLD_BYTES},
        collections = collections - (SELECT count(*) FROM {COLLECTIONS}
            WHERE {_CKEY.format(r="OLD")} AND documents <= 0)
    WHERE {_PKEY.format(r="OLD")};
    DELETE FROM {COLLECTIONS} WHERE {_CKEY.format(r="OLD")} AND documents <= 0;
    DELETE FROM {PARTITIONS} WHERE {_PKEY.format(r="OLD")} AND documents <= 0;
END""",
    f"""CREATE TRIGGER store_stats_update AFTER UPDATE OF updated_at, data
ON store_document BEGIN
    UPDATE {PARTITIONS} SET last_write = max(last_write, NEW.updated_at),
        bytes = bytes + {_NEW_BYTES} - {_OLD_BYTES}
    WHERE {_PKEY.format(r="NEW")};
END""",
]
SQLITE_DROP = [
    f"DROP TRIGGER IF EXISTS store_stats_{op}" for op in ("insert", "delete", "update")
]
REBUILD = [
    f"DELETE FROM {COLLECTIONS}",
    f"DELETE FROM {PARTITIONS}",
    f"""INSERT INTO {COLLECTIONS} (tenant_id, app_id, user_id, collection, documents)
    SELECT tenant_id, app_id, user_id, collection, count(*) FROM store_document
    GROUP BY tenant_id, app_id, user_id, collection""",
    f"""INSERT INTO {PARTITIONS}
        (tenant_id, app_id, user_id, documents, bytes, collections, last_write)
    SELECT tenant_id, app_id, user_id, count(*), sum({{bytes}}),
        count(DISTINCT collection), max(updated_at)
    FROM store_document GROUP BY tenant_id, app_id, user_id""",
]
USERS = f"""SELECT user_id, documents, collections, last_write, bytes FROM {PARTITIONS}
WHERE {_WHERE}{{filters}} ORDER BY {{order}} LIMIT %s"""
PARTITION = f"""SELECT documents, collections, last_write, bytes FROM {PARTITIONS}
WHERE {_WHERE} AND user_id = %s"""
EXTENSIONS = f"""SELECT app_id, count(*), sum(documents) FROM {PARTITIONS}
WHERE tenant_id = %s GROUP BY app_id"""
COLLECTION_ROWS = f"""SELECT collection, documents FROM {COLLECTIONS}
WHERE {_WHERE} AND user_id = %s ORDER BY collection LIMIT %s"""
COLLECTION_ROW = f"""SELECT documents FROM {COLLECTIONS}
WHERE {_WHERE} AND user_id = %s AND collection = %s"""


def install_triggers(cursor, vendor):
    """Create the statistics triggers on a ``vendor`` database through ``cursor``."""
    if vendor != "postgresql":
        for sql in SQLITE_DROP:  # SQLite has no CREATE OR REPLACE TRIGGER
            cursor.execute(sql)
    for sql in [POSTGRESQL_TRIGGERS] if vendor == "postgresql" else SQLITE_TRIGGERS:
        cursor.execute(sql)


def drop_triggers(cursor, vendor):
    """Remove the statistics triggers (the reverse of install_triggers)."""
    for sql in [POSTGRESQL_DROP] if vendor == "postgresql" else SQLITE_DROP:
        cursor.execute(sql)


def rebuild(cursor, vendor=None):
    """Recount every partition from the documents table (after a bulk load that
    bypassed the triggers, when the triggers are first installed, or to repair
    drift: ``manage.py reconcile_quotas``)."""
    vendor = vendor or cursor.db.vendor
    size = (
        PG_BYTES if vendor == "postgresql" else SQLITE_BYTES.format(r="store_document")
    )
    for sql in REBUILD:
        cursor.execute(sql.replace("{bytes}", size))


@dataclass(frozen=True)
class UserStats:
    """One user of an extension as the browser lists them."""

    user_id: str
    documents: int
    collections: int
    last_write: str
    bytes: int = 0


@dataclass(frozen=True)
class UserStatsPage:
    """A page of users in the asked order; ``cursor`` continues it (None: last),
    ``previous`` pages back from it (None: this is the first page)."""

    data: list
    cursor: str | None
    sort: str
    previous: str | None = None


class Statistics:
    """Reads of the trigger-kept statistics, on one synchronous connection."""

    def __init__(self, connection=None):
        self.connection = connection or DjangoConnection()
        self.backend = self.connection.backend

    def users(
        self,
        tenant_id,
        app_id,
        *,
        search="",
        sort="user",
        cursor=None,
        before=None,
        limit=USERS_LIMIT_DEFAULT,
    ):
        """Return a UserStatsPage of the extension's users holding documents.

        ``sort`` is ``user``, ``documents`` or ``last_write``, ``-`` first for
        descending (ties by user id, the same way); ``search`` keeps user ids
        containing it (case-insensitive); ``cursor`` is a page's ``cursor``
        and ``before`` a page's ``previous`` for the same sort (keyset both
        ways; paging back to the start gives the first page). Raises
        ValueError naming the rule for a bad id, sort, search, limit or cursor.
        """
        _check_id("tenant_id", tenant_id)
        _check_id("app_id", app_id)
        column, descending = _sort(sort)
        validation.limit(limit, USERS_LIMIT_MAX)
        if cursor and before:
            raise ValueError("store: page after a cursor or before one, not both")
        filters, params = "", [tenant_id, app_id]
        if search:
            filters += " AND lower(user_id) LIKE %s ESCAPE '\\'"
            params.append(_like_pattern(search))
        backwards = bool(before)
        if cursor or before:
            keyset, keyset_params = self._keyset(
                cursor or before, sort, descending != backwards
            )
            filters += keyset
            params += keyset_params
        sql = USERS.format(
            filters=filters, order=_order(column, descending != backwards)
        )
        rows = self._run(sql, (*params, limit + 1))
        more = len(rows) > limit
        found = [self._user(row) for row in rows[:limit]]
        if backwards:
            if not more:  # back at the start
                return self.users(
                    tenant_id, app_id, search=search, sort=sort, limit=limit
                )
            found.reverse()
        cursor_of = functools.partial(self._encode_cursor, sort=sort, column=column)
        next_cursor = cursor_of(found[-1]) if found and (more or backwards) else None
        previous = cursor_of(found[0]) if found and (cursor or backwards) else None
        return UserStatsPage(found, next_cursor, sort, previous)

    def extensions(self, tenant_id):
        """Return {app_id: {"users", "documents"}} of the tenant's extensions
        holding documents (one row per user read, no document)."""
        _check_id("tenant_id", tenant_id)
        rows = self._run(EXTENSIONS, (tenant_id,))
        return {app: {"users": n, "documents": int(docs)} for app, n, docs in rows}

    def collection(self, partition, name):
        """Return how many documents collection ``name`` of ``partition`` holds,
        or None when it holds none."""
        rows = self._run(COLLECTION_ROW, (*_key(partition), name))
        return rows[0][0] if rows else None

    def partition(self, partition):
        """Return the UserStats of one partition, or None when it holds nothing."""
        rows = self._run(PARTITION, _key(partition))
        if not rows:
            return None
        return self._user((partition.user_id, *rows[0]))

    def collections(self, partition, limit=1000):
        """Return [(collection, documents)] of one partition, by name (at most
        ``limit``)."""
        return [
            tuple(row) for row in self._run(COLLECTION_ROWS, (*_key(partition), limit))
        ]

    # --- helpers ---------------------------------------------------------
    def _user(self, row):
        user_id, documents, collections, last_write, size = row
        return UserStats(
            user_id,
            documents,
            collections,
            self.backend.timestamp_text(last_write),
            size,
        )

    def _keyset(self, cursor, sort, descending):
        """Return (SQL, params) keeping the rows past ``cursor`` in that order."""
        column = _sort(sort)[0]
        value, user_id = self._decode_cursor(cursor, sort)
        op = "<" if descending else ">"
        if column == "user_id":
            return f" AND user_id {op} %s", [user_id]
        return f" AND ({column}, user_id) {op} (%s, %s)", [value, user_id]

    def _encode_cursor(self, last, sort, column):
        value = {
            "user_id": None,
            "documents": last.documents,
            "bytes": last.bytes,
        }.get(column, last.last_write)
        return signing.dumps([sort, value, last.user_id], salt=CURSOR_SALT)

    def _decode_cursor(self, cursor, sort):
        try:
            cursor_sort, value, user_id = signing.loads(cursor, salt=CURSOR_SALT)
        except (signing.BadSignature, ValueError, TypeError):
            raise ValueError(
                f"store: cursor {str(cursor)[:40]!r} is not one a page of users "
                "returned"
            ) from None
        if cursor_sort != sort:
            raise ValueError(
                f"store: cursor belongs to sort {cursor_sort!r}, not {sort!r}"
            )
        if _sort(sort)[0] == "last_write":
            value = self.backend.timestamp_param(datetime.datetime.fromisoformat(value))
        return value, user_id

    def _run(self, sql, params):
        def statement():
            return (yield (sql, params))

        return self.connection.run(statement())


def _sort(sort):
    """Return (column, descending) of a sort name; ValueError naming the choices."""
    name = sort[1:] if isinstance(sort, str) and sort.startswith("-") else sort
    if name not in SORTS:
        choices = ", ".join(f"{s}, -{s}" for s in SORTS)
        raise ValueError(
            f"store: sort must be one of {choices}; got {str(sort)[:40]!r}"
        )
    return SORTS[name], sort.startswith("-")


def _order(column, descending):
    """Return the ORDER BY of a sort column, ties by user id the same way."""
    direction = " DESC" if descending else ""
    order = f"user_id{direction}"
    return order if column == "user_id" else f"{column}{direction}, {order}"


def _key(partition):
    return (partition.tenant_id, partition.app_id, partition.user_id)
