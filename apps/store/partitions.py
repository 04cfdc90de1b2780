"""Whole partitions: a user's summary, streamed export and erase; an extension's users.

Built on :class:`apps.store.core.DocumentStore` (documents are read through
``query``, keyset-paginated, so an export holds one page at a time) and on a
few statements of its own, each filtering by the partition key first. An erase
writes one audit row per deleted document and one ``erase`` row for the whole
partition, in the same transaction as the delete, and takes the partition's data
out of its earlier audit rows (the changes operators' writes recorded).
"""

import base64
import binascii
import datetime
from dataclasses import dataclass

from apps.common.statements import BEGIN, COMMIT

from . import cursors, query, validation
from .actors import check_actor
from .backends.base import AUDIT, AUDIT_COLUMNS, DOCUMENTS
from .connections import DjangoConnection
from .core import DocumentStore
from .models import AuditEntry

SUMMARY_COLLECTIONS_MAX = 1000
COLLECTIONS_PAGE = 100
EXPORT_PAGE = validation.LIMIT_MAX
USERS_LIMIT_MAX = 200
USERS_LIMIT_DEFAULT = 50
SEARCH_MAX_CHARS = 128
CURSOR_MAX_CHARS = 400
ID_MAX_CHARS = 128  # tenant, app and user ids: the columns' widths
ERASE_ACTORS = (
    AuditEntry.Actor.USER,
    AuditEntry.Actor.OPERATOR,
    AuditEntry.Actor.SYSTEM,
)
# The erase row names no single document: "*" is never a valid collection or id.
WHOLE_PARTITION = "*"

_PARTITION = "tenant_id = %s AND app_id = %s AND user_id = %s"
COLLECTION_COUNTS = f"""SELECT collection, count(*) FROM {DOCUMENTS}
WHERE {_PARTITION} GROUP BY collection ORDER BY collection LIMIT %s"""
COLLECTIONS_AFTER = f"""SELECT DISTINCT collection FROM {DOCUMENTS}
WHERE {_PARTITION} AND collection > %s ORDER BY collection LIMIT %s"""
COUNT = f"SELECT count(*) FROM {DOCUMENTS} WHERE {_PARTITION}"
_AUDIT_DELETED = f"""SELECT %s, tenant_id, app_id, user_id, collection, doc_id,
    '{AuditEntry.Op.DELETE.value}', %s, %s, NULL, ''"""
# PostgreSQL: the delete and its audit rows in one statement, so a document
# written meanwhile is either deleted and audited or left alone.
ERASE_POSTGRESQL = f"""WITH doc AS (
    DELETE FROM {DOCUMENTS} WHERE {_PARTITION}
    RETURNING tenant_id, app_id, user_id, collection, doc_id),
audit AS (INSERT INTO {AUDIT} ({AUDIT_COLUMNS}) {_AUDIT_DELETED} FROM doc)
SELECT count(*) FROM doc"""
# SQLite: the IMMEDIATE transaction holds the database's write lock, so the
# rows audited are the rows deleted.
AUDIT_BEFORE_ERASE_SQLITE = f"""INSERT INTO {AUDIT} ({AUDIT_COLUMNS})
{_AUDIT_DELETED} FROM {DOCUMENTS} WHERE {_PARTITION}"""
ERASE_SQLITE = f"DELETE FROM {DOCUMENTS} WHERE {_PARTITION}"
ERASE_ROW = f"""INSERT INTO {AUDIT} ({AUDIT_COLUMNS})
VALUES (%s, %s, %s, %s, %s, %s, '{AuditEntry.Op.ERASE.value}', %s, %s, NULL, '')"""
# The erased data must not outlive the erase in the trail of earlier writes.
FORGET_CHANGES = f"""UPDATE {AUDIT} SET change = NULL
WHERE {_PARTITION} AND change IS NOT NULL"""
USERS = f"""SELECT user_id, count(*), max(updated_at) FROM {DOCUMENTS}
WHERE tenant_id = %s AND app_id = %s AND user_id > %s{{search}}
GROUP BY user_id ORDER BY user_id LIMIT %s"""
SEARCH = " AND lower(user_id) LIKE %s ESCAPE '\\'"


@dataclass(frozen=True)
class CollectionCount:
    """One collection of a partition and how many documents it holds."""

    name: str
    documents: int


@dataclass(frozen=True)
class PartitionSummary:
    """A partition's collections (at most SUMMARY_COLLECTIONS_MAX, by name)."""

    partition: object
    collections: list
    truncated: bool

    @property
    def documents(self):
        return sum(c.documents for c in self.collections)


@dataclass(frozen=True)
class UserPartition:
    """One user of an extension: documents held and the latest document write."""

    user_id: str
    documents: int
    last_write: str


@dataclass(frozen=True)
class BrowsePage:
    """A page of one collection in the asked order: ``after`` continues it,
    ``before`` pages back from it (None: nothing that way)."""

    data: list
    after: str | None
    before: str | None


@dataclass(frozen=True)
class UsersPage:
    """A page of an extension's users, by id; ``cursor`` continues it (None: last)."""

    data: list
    cursor: str | None
    has_more: bool


class Partitions:
    """Operations on whole partitions, on one synchronous connection."""

    clock = staticmethod(lambda: datetime.datetime.now(datetime.UTC))

    def __init__(self, connection=None):
        self.connection = connection or DjangoConnection()
        self.backend = self.connection.backend
        self.store = DocumentStore(self.connection)

    def summary(self, partition):
        """Return the PartitionSummary of ``partition``."""
        check_partition(partition)
        rows = self._run(
            COLLECTION_COUNTS, (*_key(partition), SUMMARY_COLLECTIONS_MAX + 1)
        )
        collections = [CollectionCount(name, count) for name, count in rows]
        return PartitionSummary(
            partition,
            collections[:SUMMARY_COLLECTIONS_MAX],
            len(collections) > SUMMARY_COLLECTIONS_MAX,
        )

    def count(self, partition):
        """Return how many documents ``partition`` holds."""
        check_partition(partition)
        return self._run(COUNT, _key(partition))[0][0]

    def export(self, partition):
        """Yield every Document of ``partition``, by collection then id.

        Pages of EXPORT_PAGE documents (within the store's page byte budget)
        are read one after the other: memory holds one page, whatever the size.
        """
        check_partition(partition)
        for collection in self.collections(partition):
            cursor = None
            while True:
                page = self.store.query(
                    partition,
                    collection,
                    order_by="id",
                    limit=EXPORT_PAGE,
                    cursor=cursor,
                )
                yield from page.data
                if not page.has_more:
                    break
                cursor = page.cursor

    def collections(self, partition):
        """Yield the names of the partition's collections in order, a page at a time."""
        check_partition(partition)
        after = ""
        while True:
            rows = self._run(
                COLLECTIONS_AFTER, (*_key(partition), after, COLLECTIONS_PAGE)
            )
            for (name,) in rows:
                yield name
            if len(rows) < COLLECTIONS_PAGE:
                return
            after = rows[-1][0]

    def browse(self, partition, collection, where=None, order_by=None, **page):
        """Return a Page of one collection of the partition, as ``ctx.store.query``
        does (same ``where``/``order_by``/``limit``/``cursor`` rules and errors)."""
        check_partition(partition)
        return self.store.query(partition, collection, where, order_by, **page)

    def browse_both_ways(
        self,
        partition,
        collection,
        where=None,
        order_by=None,
        *,
        limit,
        after=None,
        before=None,
    ):
        """Return a BrowsePage: the first page, the one ``after`` a page's
        ``after`` cursor, or the one ``before`` a page's ``before`` cursor.

        Keyset both ways: a page back is the same query in the reverse order,
        read from the cursor and turned around, so writes meanwhile never shift
        it; paging back to the start gives the first page, full. The rules and
        errors are ``ctx.store.query``'s (a cursor from another query raises).
        """
        if after and before:
            raise ValueError("store: page after a cursor or before one, not both")
        check_partition(partition)
        ordering = query.parse_order_by(order_by)
        backwards = _reversed(ordering)
        if before:
            page = self.store.query(
                partition, collection, where, backwards, limit, before
            )
            if not page.has_more:  # back at the start
                return self.browse_both_ways(
                    partition, collection, where, order_by, limit=limit
                )
            docs = page.data[::-1]
            after_last = cursors.after_document(collection, where, ordering, docs[-1])
            return BrowsePage(docs, after_last, page.cursor)
        page = self.store.query(partition, collection, where, order_by, limit, after)
        docs, back = page.data, None
        if after and docs:
            reverse = query.parse_order_by(backwards)
            back = cursors.after_document(collection, where, reverse, docs[0])
        return BrowsePage(docs, page.cursor, back)

    def erase(self, partition, actor, *, operator=""):
        """Delete every document of ``partition``; return how many were deleted.

        One audit row per document (op ``delete``) and one op ``erase`` row,
        all by ``actor`` (one of ERASE_ACTORS; an operator's names the
        ``operator``), and the changes earlier audit rows of the partition kept
        are cleared, all in the delete's transaction. Raises ValueError for a
        bad partition, actor or operator, before any write.
        """
        check_partition(partition)
        if actor not in ERASE_ACTORS:
            raise ValueError(
                f"store: erase actor must be one of {[str(a) for a in ERASE_ACTORS]}, "
                f"got {actor!r:.40}"
            )
        check_actor(actor, operator)
        return self.connection.run(self._erase(partition, str(actor), operator))

    def users(
        self, tenant_id, app_id, search="", cursor=None, limit=USERS_LIMIT_DEFAULT
    ):
        """Return a UsersPage of the users holding documents in the extension.

        ``search`` keeps user ids containing it (case-insensitive); ``cursor``
        is a page's ``cursor``. Raises ValueError for a bad id, search, limit
        or cursor.
        """
        _check_id("tenant_id", tenant_id)
        _check_id("app_id", app_id)
        validation.limit(limit, USERS_LIMIT_MAX)
        after = decode_cursor(cursor) if cursor else ""
        sql, params = USERS.format(search=""), [tenant_id, app_id, after]
        if search:
            sql = USERS.format(search=SEARCH)
            params.append(_like_pattern(search))
        rows = self._run(sql, (*params, limit + 1))
        found = [
            UserPartition(user, count, self.backend.timestamp_text(last))
            for user, count, last in rows[:limit]
        ]
        more = len(rows) > limit
        return UsersPage(
            found, encode_cursor(found[-1].user_id) if more else None, more
        )

    # --- helpers ---------------------------------------------------------
    def _erase(self, partition, actor, operator):
        now = self.backend.timestamp_param(self.clock())
        key = _key(partition)
        yield BEGIN
        yield (FORGET_CHANGES, key)
        if self.backend.vendor == "postgresql":
            deleted = (yield (ERASE_POSTGRESQL, (*key, now, actor, operator)))[0][0]
        else:
            deleted = (yield (COUNT, key))[0][0]
            yield (AUDIT_BEFORE_ERASE_SQLITE, (now, actor, operator, *key))
            yield (ERASE_SQLITE, key)
        row = (now, *key, WHOLE_PARTITION, WHOLE_PARTITION, actor, operator)
        yield (ERASE_ROW, row)
        yield COMMIT
        return deleted

    def _run(self, sql, params):
        def statement():
            return (yield (sql, params))

        return self.connection.run(statement())


def _reversed(ordering):
    """Return the order_by text walking ``ordering`` the other way."""
    name = ".".join(ordering.path) if ordering.field is None else ordering.field
    return name if ordering.descending else f"-{name}"


def encode_cursor(user_id):
    """Return the opaque cursor continuing after ``user_id``."""
    return base64.urlsafe_b64encode(user_id.encode()).decode().rstrip("=")


def decode_cursor(cursor):
    """Return the user id a cursor continues after; ValueError if it is not one."""
    if not isinstance(cursor, str) or len(cursor) > CURSOR_MAX_CHARS:
        raise ValueError(
            f"store: cursor must be a string of at most {CURSOR_MAX_CHARS} "
            "characters, as a page of users returned it"
        )
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValueError(
            f"store: cursor {cursor[:40]!r} is not one a page of users returned"
        ) from None
    return _check_id("cursor", text)


def _like_pattern(search):
    if not isinstance(search, str) or len(search) > SEARCH_MAX_CHARS:
        raise ValueError(
            f"store: search must be a string of at most {SEARCH_MAX_CHARS} "
            f"characters, got {str(search)[:40]!r}"
        )
    escaped = search.lower().replace("\\", "\\\\").replace("%", "\\%")
    return "%" + escaped.replace("_", "\\_") + "%"


def check_partition(partition):
    """Return ``partition`` if its ids are valid; raise ValueError naming the rule."""
    _check_id("tenant_id", partition.tenant_id)
    _check_id("app_id", partition.app_id)
    _check_id("user_id", partition.user_id)
    return partition


def _check_id(name, value):
    if not isinstance(value, str) or not 0 < len(value) <= ID_MAX_CHARS:
        raise ValueError(
            f"store: {name} must be a string of 1-{ID_MAX_CHARS} characters, "
            f"got {str(value)[:40]!r}"
        )
    if "\x00" in value:
        raise ValueError(f"store: {name} must not contain NUL characters")
    return value


def _key(partition):
    return (partition.tenant_id, partition.app_id, partition.user_id)
