"""The store's one core: validation and semantics of every operation.

:class:`Operations` holds every rule. Its methods do no I/O: each is a
generator that yields the statements it needs and receives their rows (see
:mod:`apps.store.backends.base`), so one core runs on the synchronous driver
(:class:`DocumentStore`, on a Django connection) and on the asynchronous one
(:mod:`apps.store.pool`). The core never sees a ``ctx``, only the Partition it
acts in and, for writes, the actor the audit trail records.
"""

import datetime
import json
import secrets
import time

from django.conf import settings
from imperal_sdk.types.models import Document
from imperal_sdk.types.pagination import Page

from apps.accounts.models import SYSTEM_ID
from apps.accounts.security import require_system
from apps.common.statements import BEGIN, COMMIT
from apps.common.telemetry import metrics, tracing
from apps.common.timestamps import rfc3339
from apps.quotas import limits as quota_limits

from . import changes, cursors, query, validation
from .actors import OPERATOR, audit_values, check_actor
from .errors import DocumentExists, DocumentNotFound, StoreConflict
from .quota import StoreQuota
from .shards import Shard

DEFAULT_LIMIT = 100
FAN_OUT_DEFAULT = 500
#: The operations of :class:`Operations` a face runs (the metrics' ``op`` values).
OPERATIONS = frozenset(
    {
        "create",
        "get",
        "query",
        "update",
        "set",
        "replace",
        "delete",
        "count",
        "list",
        "list_users",
        "query_all",
    }
)


class measured:
    """``with measured(op, vendor):`` around running one operation: it is counted
    and timed (imperal_store_operations_total, imperal_store_operation_seconds)
    with its outcome, and spanned when tracing is on (its name only)."""

    __slots__ = ("op", "span", "started")

    def __init__(self, op, vendor):
        self.op = op
        self.span = tracing.NO_SPAN
        if tracing.enabled():
            self.span = tracing.span(
                f"store.{op}", **{"db.system": vendor or "", "imperal.store.op": op}
            )

    def __enter__(self):
        self.started = time.perf_counter()
        return self

    def __exit__(self, exc_type, exc, tb):
        self.span.end(exc)
        seconds = time.perf_counter() - self.started
        metrics.store_operation(self.op, OPERATIONS, exc, seconds)
        return False


class DocumentStore:
    """The store on one synchronous connection: ``DocumentStore(conn).get(...)``.

    Every method of :class:`Operations` is available, run to its result.
    """

    def __init__(self, connection):
        self.connection = connection
        self.operations = Operations(connection.backend)

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        operation = getattr(self.operations, name)
        vendor = self.connection.backend.vendor

        def run(*args, **kwargs):
            with measured(name, vendor):
                return self.connection.run(operation(*args, **kwargs))

        return run


class Operations:
    """ctx.store's semantics, as generators of statements for one backend.

    Nothing is written when an operation raises. Bad arguments raise TypeError
    or ValueError naming the rule, before any statement; database failures
    raise StoreUnavailable or StoreFailure (from the driver). A write that
    would take the partition past its quota of documents or bytes raises
    apps.quotas.errors.QuotaExceeded (see apps.store.quota).
    """

    clock = staticmethod(lambda: datetime.datetime.now(datetime.UTC))
    new_id = staticmethod(lambda: secrets.token_hex(16))
    new_etag = staticmethod(lambda: secrets.token_hex(16))

    def __init__(self, backend):
        self.backend = backend

    @property
    def max_doc_bytes(self):
        """The operator's cap on a document's JSON size (IMPERAL_STORE_MAX_DOC_BYTES)."""
        return getattr(settings, "IMPERAL_STORE_MAX_DOC_BYTES", None)

    def create(self, partition, actor, collection, data, *, doc_id=None, operator=""):
        """Create a document; return it.

        Its id is ``doc_id``, else ``data["doc_id"]`` (the key stays in the
        data), else a new unguessable id; both given must agree. An operator's
        create (actor ``operator``) names the ``operator`` and records the data
        as its change. Raises DocumentExists if the id is taken.
        """
        validation.collection(collection)
        check_actor(actor, operator)
        text = self._encoded(data)
        doc_id = _new_doc_id(doc_id, data) or self.new_id()
        change = changes.document_change(None, data) if operator else None
        audit = audit_values("create", actor, operator, change)
        quota = yield from self._quota(partition, actor)
        return (
            yield from self._insert(partition, collection, doc_id, text, audit, quota)
        )

    def get(self, partition, collection, doc_id=None):
        """Return the document, or None. ``get("collection/doc_id")`` works too."""
        if doc_id is None:
            collection, doc_id = validation.split_key(collection)
        key = _key(
            partition, validation.collection(collection), validation.doc_id(doc_id)
        )
        row = yield from self.backend.fetch(key)
        return None if row is None else self._from_row(partition, collection, row)

    def query(
        self,
        partition,
        collection,
        where=None,
        order_by=None,
        limit=DEFAULT_LIMIT,
        cursor=None,
    ):
        """Return a Page of matching documents; ``Page.cursor`` continues it.

        A page holds up to ``limit`` documents and, past its first document, at
        most IMPERAL_STORE_PAGE_MAX_BYTES of their JSON text (the database sizes
        up to ``limit + 1`` and ships only those within the budget): a page cut
        short by that budget has ``has_more`` and a cursor
        continuing right after its last document, and a document larger than
        the budget comes alone on its page. Raises TypeError/ValueError for bad
        arguments (see :mod:`apps.store.query` for where's caps).
        """
        validation.collection(collection)
        conditions = query.parse_where(where)
        ordering = query.parse_order_by(order_by)
        validation.limit(limit)
        after = None
        if cursor is not None and cursor != "":
            fingerprint = cursors.fingerprint(collection, where, ordering)
            after = cursors.decode(cursor, fingerprint)
        scope = _scope(partition, collection)
        rows, more = yield from self.backend.select(
            scope, conditions, ordering, after, limit, self.page_max_bytes
        )
        docs = [self._from_row(partition, collection, row) for row in rows]
        next_cursor = None
        if more:
            next_cursor = cursors.after_document(collection, where, ordering, docs[-1])
        return Page.model_construct(
            data=docs, cursor=next_cursor, has_more=next_cursor is not None, total=None
        )

    @property
    def page_max_bytes(self):
        """The byte budget of one page of documents (IMPERAL_STORE_PAGE_MAX_BYTES)."""
        return getattr(
            settings, "IMPERAL_STORE_PAGE_MAX_BYTES", validation.PAGE_MAX_BYTES
        )

    def update(self, partition, actor, collection, doc_id, data, if_match=""):
        """Merge ``data``'s top-level keys into the document; return it.

        With ``if_match`` the write lands only if the document's etag is still
        that value, else StoreConflict (with ``current_etag``). Raises
        DocumentNotFound if there is no such document.
        """
        key = _key(
            partition, validation.collection(collection), validation.doc_id(doc_id)
        )
        validation.if_match(if_match)
        check_actor(actor)
        patch = validation.json_object(data)
        quota = yield from self._quota(partition, actor)
        if not self._merges_in_sql():
            return (
                yield from self._merge_in_python(
                    partition, actor, key, data, if_match, "update", quota=quota
                )
            )
        now, etag = self._now(), self.new_etag()
        stamp, audit = self.backend.timestamp_param(now), audit_values("update", actor)
        row = yield from self.backend.merge(
            key, patch, stamp, etag, if_match, audit, quota
        )
        if row is None:
            yield from self._raise_missing_or_conflict(key, if_match)
        return self._from_row(partition, collection, row)

    def set(self, partition, actor, key, data):
        """Create ``"collection/doc_id"`` or merge ``data`` into it; return it.

        One atomic upsert. A non-dict ``data`` is stored as ``{"value": data}``,
        as imperal-sdk's ``set`` does.
        """
        collection, doc_id = validation.split_key(key)
        check_actor(actor)
        if not isinstance(data, dict):
            data = {"value": data}
        text = self._encoded(data)
        key = _key(partition, collection, doc_id)
        quota = yield from self._quota(partition, actor)
        if not self._merges_in_sql():
            return (
                yield from self._merge_in_python(
                    partition, actor, key, data, "", "set", text, quota
                )
            )
        now, etag = self._now(), self.new_etag()
        stamp = self.backend.timestamp_param(now)
        audit = audit_values("set", actor)
        row = yield from self.backend.upsert(key, text, stamp, etag, audit, quota)
        return self._from_row(partition, collection, row)

    def replace(
        self, partition, actor, collection, doc_id, data, if_match, *, operator=""
    ):
        """Replace the document's data whole, only while its etag is ``if_match``;
        return it (what an operator's edit does: keys left out are removed).

        The document is read and locked first, so an operator's replace
        records exactly what it changed. Raises StoreConflict (with
        ``current_etag``) when another write moved the etag, DocumentNotFound
        when the document is gone, ValueError or TypeError for bad arguments
        (``if_match`` is required), before writing.
        """
        key = _key(
            partition, validation.collection(collection), validation.doc_id(doc_id)
        )
        if not if_match:
            raise ValueError("store: replace needs if_match, the etag edited from")
        validation.if_match(if_match)
        check_actor(actor, operator)
        text = self._encoded(data)
        quota = yield from self._quota(partition, actor)
        yield BEGIN
        current = yield from self._locked(partition, key, if_match)
        change = changes.document_change(current.data, data) if operator else None
        audit = audit_values("update", actor, operator, change)
        stamp = self.backend.timestamp_param(self._now())
        replace = self.backend.replace(
            key, text, stamp, self.new_etag(), if_match, audit, quota
        )
        if not (yield from replace):
            yield from self._raise_missing_or_conflict(key, if_match)
        row = yield from self.backend.fetch(key)
        yield COMMIT
        return self._from_row(partition, collection, row)

    def delete(self, partition, actor, collection, doc_id, if_match="", *, operator=""):
        """Delete the document; return True, or False if there was none.

        With ``if_match`` a document whose etag differs raises StoreConflict.
        An operator's delete (actor ``operator``, naming the ``operator``)
        records the deleted data as its change.
        """
        key = _key(
            partition, validation.collection(collection), validation.doc_id(doc_id)
        )
        validation.if_match(if_match)
        check_actor(actor, operator)
        if operator:
            return (
                yield from self._delete_recorded(partition, key, if_match, operator)
            )
        stamp = self.backend.timestamp_param(self._now())
        audit = audit_values("delete", actor)
        if (yield from self.backend.delete(key, if_match, stamp, audit)):
            return True
        if if_match:
            current = yield from self.backend.etag_of(key)
            if current is not None:
                raise StoreConflict(doc_id, if_match, current)
        return False

    def count(self, partition, collection, where=None):
        """Return how many documents of the collection match ``where``."""
        validation.collection(collection)
        conditions = query.parse_where(where)
        return (
            yield from self.backend.count(_scope(partition, collection), conditions)
        )

    def list(self, partition, collection):
        """Return every document of the collection, oldest first.

        ``list("collection/prefix")`` keeps those whose id starts with prefix.
        It reads page after page, each within the byte budget of ``query``.
        """
        if not isinstance(collection, str):
            validation.collection(collection)
        collection, _, prefix = collection.partition("/")
        docs, cursor, limit = [], None, validation.LIMIT_MAX
        while True:
            page = yield from self.query(
                partition, collection, limit=limit, cursor=cursor
            )
            docs.extend(d for d in page.data if d.id.startswith(prefix))
            if not page.has_more:
                return docs
            cursor, limit = page.cursor, _next_list_limit(limit, len(page.data))

    def list_users(
        self, partition, collection, after="", limit=FAN_OUT_DEFAULT, shard=None
    ):
        """Return up to ``limit`` ids of users with documents in the collection,
        in order, after ``after``; never ``"__system__"``. With ``shard`` (an
        apps.store.shards.Shard) only that shard's users, in the backend's
        order (pass the last id back as ``after``). System partition only:
        RuntimeError (and a recorded security event) otherwise.
        """
        self._require_system(partition, "list_users", collection)
        validation.collection(collection)
        validation.limit(limit, validation.FAN_OUT_LIMIT_MAX, "page_size")
        if not isinstance(after, str):
            raise TypeError("store: list_users cursor must be a user id string")
        _check_shard(shard)
        return (
            yield from self.backend.user_ids(
                _fan_out(partition, collection), after, limit, shard
            )
        )

    def query_all(self, partition, collection, limit=FAN_OUT_DEFAULT, shard=None):
        """Return up to ``limit`` documents of the collection across all users (not
        the system's), by user then id, with ``Document.user_id`` set; past the
        first, at most IMPERAL_STORE_PAGE_MAX_BYTES of their JSON text (the
        budget of a ``query`` page). With ``shard``, only that shard's users.
        System partition only: RuntimeError (and a recorded security event)
        otherwise.
        """
        self._require_system(partition, "query_all", collection)
        validation.collection(collection)
        validation.limit(limit, validation.FAN_OUT_LIMIT_MAX)
        _check_shard(shard)
        rows = yield from self.backend.select_all(
            _fan_out(partition, collection), limit, self.page_max_bytes, shard
        )
        return [
            self._from_row(partition.for_user(row[0]), collection, row[1:])
            for row in rows
        ]

    # --- helpers ---------------------------------------------------------
    def _merges_in_sql(self):
        # A size cap needs the merged document in hand before writing it.
        return self.backend.merges_in_sql and not self.max_doc_bytes

    def _merge_in_python(
        self, partition, actor, key, patch, if_match, op, text=None, quota=None
    ):
        """Read, merge and replace in one transaction holding the row (or database) lock.

        ``text`` (set only) creates the document when it does not exist.
        """
        collection, doc_id = key[3], key[4]
        yield BEGIN
        row = yield from self.backend.fetch(key, lock=True)
        if row is None and text is not None:
            document = yield from self._insert(
                partition, collection, doc_id, text, audit_values(op, actor), quota
            )
            yield COMMIT
            return document
        if row is None:
            raise DocumentNotFound(collection, doc_id)
        current = self._from_row(partition, collection, row)
        if if_match and current.etag != if_match:
            raise StoreConflict(doc_id, if_match, current.etag)
        merged_text = self._encoded({**current.data, **patch}, checked=True)
        now, etag = self._now(), self.new_etag()
        stamp, audit = self.backend.timestamp_param(now), audit_values(op, actor)
        replace = self.backend.replace(
            key, merged_text, stamp, etag, current.etag, audit, quota
        )
        if not (yield from replace):
            raise StoreConflict(doc_id, current.etag, "")
        yield COMMIT
        merged = json.loads(merged_text)
        return _document(
            partition, collection, doc_id, merged, current.created_at, _iso(now), etag
        )

    def _insert(self, partition, collection, doc_id, text, audit, quota=None):
        now, etag = self._now(), self.new_etag()
        key = _key(partition, collection, doc_id)
        stamp = self.backend.timestamp_param(now)
        if not (yield from self.backend.insert(key, text, stamp, etag, audit, quota)):
            raise DocumentExists(collection, doc_id)
        moment = _iso(now)
        data = json.loads(text)
        return _document(partition, collection, doc_id, data, moment, moment, etag)

    def _quota(self, partition, actor):
        """Return the StoreQuota a write of ``actor`` runs under, or None (an
        operator's writes are not bounded; a statement generator, see
        apps.quotas.limits)."""
        if actor == OPERATOR:
            return None
        limits = yield from quota_limits.limits(partition, StoreQuota.KINDS)
        return StoreQuota.of(partition, limits)

    def _locked(self, partition, key, if_match):
        """Return the document of ``key`` locked for this transaction; raise
        DocumentNotFound, or StoreConflict when its etag is not ``if_match``."""
        row = yield from self.backend.fetch(key, lock=True)
        if row is None:
            raise DocumentNotFound(key[3], key[4])
        current = self._from_row(partition, key[3], row)
        if if_match and current.etag != if_match:
            raise StoreConflict(key[4], if_match, current.etag)
        return current

    def _delete_recorded(self, partition, key, if_match, operator):
        """Delete as ``operator``, the deleted data in the audit row's change."""
        yield BEGIN
        try:
            current = yield from self._locked(partition, key, if_match)
        except DocumentNotFound:
            yield COMMIT
            return False
        change = changes.document_change(current.data, None)
        audit = audit_values("delete", OPERATOR, operator, change)
        stamp = self.backend.timestamp_param(self._now())
        deleted = yield from self.backend.delete(key, current.etag, stamp, audit)
        yield COMMIT
        return deleted

    def _raise_missing_or_conflict(self, key, if_match):
        current = yield from self.backend.etag_of(key)
        if current is None:
            raise DocumentNotFound(key[3], key[4])
        raise StoreConflict(key[4], if_match, current)

    def _require_system(self, partition, operation, collection):
        require_system(
            partition,
            f"ctx.store.{operation}()",
            f"{operation}_from_user_context",
            collection=collection,
        )

    def _encoded(self, data, checked=False):
        text = validation.encode(data) if checked else validation.json_object(data)
        validation.check_size(text, self.max_doc_bytes)
        return text

    def _now(self):
        return self.clock().astimezone(datetime.UTC)

    def _from_row(self, partition, collection, row):
        doc_id, data, created_at, updated_at, etag = row
        return _document(
            partition,
            collection,
            doc_id,
            json.loads(data) if isinstance(data, str) else data,
            self.backend.timestamp_text(created_at),
            self.backend.timestamp_text(updated_at),
            etag,
        )


def _document(partition, collection, doc_id, data, created_at, updated_at, etag):
    """Build the imperal-sdk Document every operation returns (the one place)."""
    return Document(
        id=doc_id,
        collection=collection,
        data=data,
        extension_id=partition.app_id,
        tenant_id=partition.tenant_id,
        created_at=created_at,
        updated_at=updated_at,
        user_id=partition.user_id,
        etag=etag,
    )


def _check_shard(shard):
    if shard is not None and not isinstance(shard, Shard):
        raise TypeError(f"store: shard must be a Shard or None, got {shard!r:.40}")


def _new_doc_id(doc_id, data):
    """Return the id a create asks for (``doc_id`` or ``data["doc_id"]``), or None."""
    named = data.get("doc_id") if isinstance(data, dict) else None
    if doc_id is not None and named is not None and named != doc_id:
        raise ValueError(
            f"store: create got doc_id {doc_id!r:.60} and data['doc_id'] "
            f"{named!r:.60}; give one, or the same id twice"
        )
    if doc_id is None and (not isinstance(data, dict) or "doc_id" not in data):
        return None
    return validation.doc_id(doc_id if doc_id is not None else named)


def _key(partition, collection, doc_id):
    return (
        partition.tenant_id,
        partition.app_id,
        partition.user_id,
        collection,
        doc_id,
    )


def _scope(partition, collection):
    return (partition.tenant_id, partition.app_id, partition.user_id, collection)


def _fan_out(partition, collection):
    return (partition.tenant_id, partition.app_id, collection, SYSTEM_ID)


def _iso(moment):
    return rfc3339(moment)


def _next_list_limit(limit, returned):
    """Return the limit of list()'s next page.

    The database sizes up to limit + 1 documents of a page to fill its byte
    budget; after a page the budget cut short, ask for about as many as came
    (so large documents are not sized again and again), else grow back.
    """
    if returned < limit:
        return max(1, min(validation.LIMIT_MAX, 2 * returned))
    return min(validation.LIMIT_MAX, 2 * limit)
