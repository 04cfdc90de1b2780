"""The contract every store backend implements: the SQL of one database.

Each backend module exports ``StoreBackend`` (a subclass of BaseStoreBackend);
``settings.IMPERAL_STORE["BACKENDS"]`` names the module for each Django
database vendor, since the store runs on the platform's own database.

The core (:mod:`apps.store.core`) validates and decides; a backend only turns
already-validated values into statements with bound parameters. Its methods are
generators, like the core's operations: each ``yield (sql, params)`` receives the
statement's rows from whichever driver runs it (:mod:`apps.store.connections`,
:mod:`apps.store.pool`), and ``yield BEGIN`` / ``yield COMMIT`` bracket a
transaction. Keys are ``(tenant_id, app_id, user_id, collection, doc_id)``
tuples, scopes the same without ``doc_id``, document rows are ``(doc_id,
data, created_at, updated_at, etag)``, and ``audit`` is the values of the
write's audit row ``(op, actor, operator, change)``, change as JSON text or None.
A write that adds documents or bytes takes ``quota``, an
:class:`apps.store.quota.StoreQuota` or None: the backend raises its
QuotaExceeded, writing nothing, when the write takes the partition past it.
"""

from ..models import AuditEntry, Document

DOCUMENTS = Document._meta.db_table
AUDIT = AuditEntry._meta.db_table
ROW = "doc_id, data, created_at, updated_at, etag"
KEY = "tenant_id = %s AND app_id = %s AND user_id = %s AND collection = %s AND doc_id = %s"
SCOPE = "tenant_id = %s AND app_id = %s AND user_id = %s AND collection = %s"
FAN_OUT = "tenant_id = %s AND app_id = %s AND collection = %s AND user_id <> %s"
INSERT_COLUMNS = (
    "tenant_id, app_id, user_id, collection, doc_id, data, created_at, updated_at, etag"
)
PAGE_ROW = "doc_id, body, created_at, updated_at, etag"
AUDIT_COLUMNS = (
    "at, tenant_id, app_id, user_id, collection, doc_id, "
    "op, actor, operator, change, etag"
)
FETCH = f"SELECT {ROW} FROM {DOCUMENTS} WHERE {KEY}"
ETAG = f"SELECT etag FROM {DOCUMENTS} WHERE {KEY}"


def _check_columns():
    """Fail at import if the ORM's columns ever stop matching the SQL here."""
    for model, names in (
        (Document, INSERT_COLUMNS),
        (AuditEntry, AUDIT_COLUMNS),
    ):
        for name in names.split(", "):
            column = model._meta.get_field(name).column
            if column != name:
                raise RuntimeError(f"{model.__name__}.{name} is stored as {column}")


_check_columns()


class BaseStoreBackend:
    """SQL of one database. Subclasses implement every method that raises here."""

    vendor = None
    # A page's rows (``{page}``, ordered by ``{keys}``) with ``body``, the
    # document's JSON text, added (once per row), and the SQL of its size in
    # bytes that the budget adds up.
    text_page = None
    size_sql = None
    budget_param = "%s"
    # True when merge() and upsert() are single statements; otherwise the core
    # reads, merges and replaces inside one transaction.
    merges_in_sql = False
    # The SQL of apps.store.shards.user_hash over ``{column}``.
    user_hash_sql = None
    # What fetch(lock=True) appends; empty where the caller's transaction already
    # holds the write lock (SQLite's IMMEDIATE transaction).
    row_lock = ""

    def fetch(self, key, lock=False):
        """Return the row of ``key`` (locked for update if asked), or None."""
        rows = yield (FETCH + (self.row_lock if lock else ""), key)
        return rows[0] if rows else None

    def etag_of(self, key):
        """Return the current etag of ``key``, or None if there is no such document."""
        rows = yield (ETAG, key)
        return rows[0][0] if rows else None

    def insert(self, key, text, now, etag, audit, quota=None):
        """Insert a document and its audit row; return False (writing nothing) if it exists."""
        raise NotImplementedError

    def replace(self, key, text, now, etag, expected_etag, audit, quota=None):
        """Overwrite data if the etag is still ``expected_etag``; return whether it did."""
        raise NotImplementedError

    def merge(self, key, patch, now, etag, if_match, audit, quota=None):
        """Merge ``patch`` into the document (only if its etag is ``if_match``, when
        given); return the new row, or None when nothing matched."""
        raise NotImplementedError

    def upsert(self, key, text, now, etag, audit, quota=None):
        """Create the document or merge ``text`` into it; return the new row."""
        raise NotImplementedError

    def delete(self, key, if_match, now, audit):
        """Delete the document (only at etag ``if_match``, when given); return whether it did."""
        raise NotImplementedError

    def select(self, scope, conditions, ordering, after, limit, max_bytes):
        """Return ``(rows, more)``: up to ``limit`` rows of ``scope`` matching, in
        order, after the key, whose JSON adds up to at most ``max_bytes`` bytes
        (the first row always comes); ``more`` says whether matching rows follow.
        """
        where, params = self._where(scope, conditions)
        order, order_params = self._order(ordering)
        if after is not None:
            keyset, keyset_params = self._keyset(ordering, order, order_params, after)
            where += f" AND {keyset}"
            params += keyset_params
        direction = "DESC" if ordering.descending else "ASC"
        sorts = [f"sort_{index}" for index in range(len(order))]
        selected = ", ".join(f"{expr} AS sort_{i}" for i, expr in enumerate(order))
        keys = ", ".join(f"{sort} {direction}" for sort in sorts)
        page = (
            f"SELECT {ROW}, {selected} FROM {DOCUMENTS} WHERE {where} "
            f"ORDER BY {keys} LIMIT %s"
        )
        sql = self._budgeted(PAGE_ROW, page, keys)
        params = (*order_params, *params, limit + 1, limit, max_bytes)
        rows = yield (sql, params)
        return _fitting(rows)

    def count(self, scope, conditions):
        """Return how many documents of ``scope`` match ``conditions``."""
        where, params = self._where(scope, conditions)
        rows = yield (f"SELECT count(*) FROM {DOCUMENTS} WHERE {where}", params)
        return rows[0][0]

    def user_ids(self, fan_out, after, limit, shard=None):
        """Return up to ``limit`` distinct user ids after ``after`` (fan_out: tenant,
        app, collection, excluded user), only those of ``shard`` when given (an
        apps.store.shards.Shard; the order is then the backend's own)."""
        raise NotImplementedError

    def select_all(self, fan_out, limit, max_bytes, shard=None):
        """Return up to ``limit`` rows ``(user_id, *row)`` across users (only
        ``shard``'s when given), by user and id, whose JSON adds up to at most
        ``max_bytes`` bytes (the first always)."""
        in_shard, shard_params = self.shard_filter(shard)
        page = (
            f"SELECT user_id, {ROW} FROM {DOCUMENTS} WHERE {FAN_OUT}{in_shard} "
            "ORDER BY user_id, doc_id LIMIT %s"
        )
        sql = self._budgeted(f"user_id, {PAGE_ROW}", page, "user_id, doc_id")
        rows = yield (sql, (*fan_out, *shard_params, limit, limit, max_bytes))
        return _fitting(rows)[0]

    def shard_filter(self, shard, column="user_id"):
        """Return ``(sql, params)``: `` AND`` the user's hash lies in ``shard``
        (``""`` and no params for no shard)."""
        if shard is None:
            return "", ()
        user_hash = self.user_hash_sql.format(column=column)
        return f" AND {user_hash} >= %s AND {user_hash} < %s", shard.bounds

    def timestamp_param(self, moment):
        """Return the parameter for an aware UTC datetime."""
        raise NotImplementedError

    def timestamp_text(self, value):
        """Return the ISO-8601 text of a timestamp as a row holds it."""
        raise NotImplementedError

    def _budgeted(self, columns, page, keys):
        """Return SQL keeping the first rows of ``page`` (ordered by ``keys``, its
        ORDER BY) while their running size stays within the budget.

        Its last parameters are the most rows to keep and the budget; each row
        (``columns``, with ``body`` the document's JSON text) ends with its
        position and whether another row of ``page`` follows it.
        """
        return f"""SELECT {columns}, n, more FROM (
    SELECT {columns}, row_number() OVER w AS n, lead(1) OVER w AS more,
        sum({self.size_sql}) OVER w AS running
    FROM ({self.text_page.format(page=page, keys=keys)}) AS page
    WINDOW w AS (ORDER BY {keys} ROWS UNBOUNDED PRECEDING)) AS sized
WHERE n <= %s AND (n = 1 OR running <= {self.budget_param})"""

    def _where(self, scope, conditions):
        """Return (SQL, params) of the scope and every condition, ANDed."""
        raise NotImplementedError

    def _order(self, ordering):
        """Return ([sort expressions ending with the doc id], params)."""
        raise NotImplementedError

    def _keyset(self, ordering, order, order_params, after):
        """Return (SQL, params) selecting rows strictly after the cursor's key."""
        raise NotImplementedError


def _fitting(rows):
    """Return ``(rows, more)`` of a budgeted page: its rows in order, without their
    position and follower columns, and whether another row follows them."""
    rows = sorted(rows, key=lambda row: row[-2])
    return [row[:-2] for row in rows], bool(rows) and rows[-1][-1] is not None
