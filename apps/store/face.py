"""ctx.store: imperal-sdk's StoreClient API, a thin async face over the store's core."""

from asgiref.sync import sync_to_async
from django.db import DEFAULT_DB_ALIAS

from . import pool
from .connections import DjangoConnection
from .core import (
    DEFAULT_LIMIT,
    FAN_OUT_DEFAULT,
    DocumentStore,
    Operations,
    measured,
)

OPERATIONS = Operations(pool.BACKEND)


def store_for(ctx):
    """Return the ctx.store of ``ctx``, bound to its partition and actor."""
    return StoreFace(ctx)


def _call_in_caller_thread(alias, method, args):
    return getattr(DocumentStore(DjangoConnection(alias)), method)(*args)


_in_caller_thread = sync_to_async(_call_in_caller_thread)


class StoreFace:
    """One partition's store. Nothing here names another partition: only
    ``ctx.as_user`` (system context) makes a store for another user.

    Methods return imperal-sdk ``Document`` / ``Page`` and raise as
    :class:`apps.store.core.Operations` does.
    """

    _alias = DEFAULT_DB_ALIAS  # the Django database it runs on (tests swap it)

    def __init__(self, ctx):
        self._ctx = ctx
        self._partition = ctx._partition
        self._actor = ctx._actor
        # The async pool serves the platform database only.
        self._pool_size = pool.size() if self._alias == DEFAULT_DB_ALIAS else 0

    async def create(self, collection, data):
        """Create a document (id from ``data["doc_id"]`` when given); return it."""
        return await self._call("create", self._actor, collection, data)

    async def get(self, collection, doc_id=None):
        """Return the document, or None; ``get("collection/doc_id")`` works too."""
        return await self._call("get", collection, doc_id)

    async def query(
        self, collection, where=None, order_by=None, limit=DEFAULT_LIMIT, cursor=None
    ):
        """Return a Page of matching documents (``Page.cursor`` continues it)."""
        return await self._call("query", collection, where, order_by, limit, cursor)

    async def update(self, collection, doc_id, data, if_match=""):
        """Merge ``data`` into the document; StoreConflict if ``if_match`` is stale."""
        return await self._call(
            "update", self._actor, collection, doc_id, data, if_match
        )

    async def delete(self, collection, doc_id, if_match=""):
        """Delete the document; return whether it existed."""
        return await self._call("delete", self._actor, collection, doc_id, if_match)

    async def count(self, collection, where=None):
        """Return how many documents match ``where``."""
        return await self._call("count", collection, where)

    async def set(self, key, data):
        """Atomically create ``"collection/doc_id"`` or merge ``data`` into it."""
        return await self._call("set", self._actor, key, data)

    async def list(self, collection):
        """Return every document of the collection (``"collection/prefix"`` filters ids)."""
        return await self._call("list", collection)

    async def list_users(self, collection, *, page_size=FAN_OUT_DEFAULT):
        """Yield each user with documents in the collection (system context only).

        Each item is the user id (a ``str``) and that user's scoped context, so
        both ``ctx.as_user(uid)`` and ``user_ctx.store.query(...)`` work. In a
        sharded fire only the shard's users come, and a re-run skips the users
        its fire already delivered to (the context's fan-out decides).
        """
        after, shard = "", self._ctx._fan_out_shard
        while True:
            user_ids = await _in_caller_thread(
                self._alias,
                "list_users",
                (self._partition, collection, after, page_size, shard),
            )
            last = len(user_ids) < page_size
            async for user in self._ctx._fan_out(user_ids, last=last):
                yield user
            if last:
                return
            after = user_ids[-1]

    async def query_all(self, collection, limit=FAN_OUT_DEFAULT):
        """Return documents of every user, with ``user_id`` (system context only);
        in a sharded fire, of the shard's users only."""
        return await _in_caller_thread(
            self._alias,
            "query_all",
            (self._partition, collection, limit, self._ctx._fan_out_shard),
        )

    def for_user(self, user_id):
        """Return ``user_id``'s store (imperal-sdk's webhook escape hatch).

        System context only, exactly as ``ctx.as_user``: any other caller gets
        RuntimeError and a security event.
        """
        return self._ctx._surface_for_user("store", user_id)

    async def _call(self, method, *args):
        if self._pool_size:
            operation = getattr(OPERATIONS, method)(self._partition, *args)
            with measured(method, pool.BACKEND.vendor):
                return await pool.run(operation)
        return await _in_caller_thread(self._alias, method, (self._partition, *args))

    def __repr__(self):
        return f"<ctx.store {self._partition}>"
