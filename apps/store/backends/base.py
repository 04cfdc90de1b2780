"""The contract every store backend implements: the SQL of one database.

The core (:mod:`apps.store.core`) validates and decides; a backend only turns
already-validated values into statements with bound parameters and runs them on
a connection (:mod:`apps.store.connections`). Keys are ``(tenant_id, app_id,
user_id, collection, doc_id)`` tuples, scopes the same without ``doc_id``, and
document rows are ``(doc_id, data, created_at, updated_at, etag)``.
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
AUDIT_COLUMNS = "at, tenant_id, app_id, user_id, collection, doc_id, op, actor, etag"


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


class StoreBackend:
    """SQL of one database. Subclasses implement every method that raises here."""

    vendor = None
    # True when merge() and upsert() are single statements; otherwise the core
    # reads, merges and replaces inside one transaction.
    merges_in_sql = False

    def fetch(self, conn, key, lock=False):
        """Return the row of ``key`` (locked for update if asked), or None."""
        raise NotImplementedError

    def etag_of(self, conn, key):
        """Return the current etag of ``key``, or None if there is no such document."""
        raise NotImplementedError

    def insert(self, conn, key, text, now, etag, audit):
        """Insert a document and its audit row; return False (writing nothing) if it exists."""
        raise NotImplementedError

    def replace(self, conn, key, text, now, etag, expected_etag, audit):
        """Overwrite data if the etag is still ``expected_etag``; return whether it did."""
        raise NotImplementedError

    def merge(self, conn, key, patch, now, etag, if_match, audit):
        """Merge ``patch`` into the document (only if its etag is ``if_match``, when
        given); return the new row, or None when nothing matched."""
        raise NotImplementedError

    def upsert(self, conn, key, text, now, etag, audit):
        """Create the document or merge ``text`` into it; return the new row."""
        raise NotImplementedError

    def delete(self, conn, key, if_match, now, audit):
        """Delete the document (only at etag ``if_match``, when given); return whether it did."""
        raise NotImplementedError

    def select(self, conn, scope, conditions, ordering, after, limit):
        """Return up to ``limit`` rows of ``scope`` matching, in order, after the key."""
        raise NotImplementedError

    def count(self, conn, scope, conditions):
        """Return how many documents of ``scope`` match ``conditions``."""
        raise NotImplementedError

    def user_ids(self, conn, fan_out, after, limit):
        """Return up to ``limit`` distinct user ids after ``after`` (fan_out: tenant,
        app, collection, excluded user)."""
        raise NotImplementedError

    def select_all(self, conn, fan_out, limit):
        """Return up to ``limit`` rows ``(user_id, *row)`` across users, by user and id."""
        raise NotImplementedError

    def timestamp_param(self, moment):
        """Return the parameter for an aware UTC datetime."""
        raise NotImplementedError

    def timestamp_text(self, value):
        """Return the ISO-8601 text of a timestamp as a row holds it."""
        raise NotImplementedError
