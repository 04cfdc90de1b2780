"""ctx.db: the async face an extension calls, over the synchronous core.

Every blocking call runs in a thread, never on the event loop: checkouts in
one pool of threads (they may wait for a free connection), statements in
another (so a waiting checkout can never hold up the statement that would
free a connection).
"""

import asyncio
from concurrent.futures import ThreadPoolExecutor

from . import core

CHECKOUT_THREADS = 32
QUERY_THREADS = 32
_checkouts = ThreadPoolExecutor(CHECKOUT_THREADS, thread_name_prefix="ctx-db-checkout")
_queries = ThreadPoolExecutor(QUERY_THREADS, thread_name_prefix="ctx-db")


def db_for(ctx):
    """Return the ctx.db face of the context's extension."""
    return DbFace(ctx._extension_id)


class DbFace:
    """``ctx.db``: ``session()`` (one transaction) and ``acquire()`` (autocommit).

    Both are async context managers yielding a DbConnection whose
    ``await execute(sql, params)`` returns an apps.db.result.Result. The
    SQL reaches only the extension's own schema (PostgreSQL) or file
    (SQLite); filtering rows by user stays the extension's job.
    """

    def __init__(self, app_id, backend=None):
        self.app_id = app_id
        self._backend = backend

    @property
    def backend(self):
        return self._backend or core.get_backend()

    def session(self):
        """Return a context manager for one transaction: committed on success,
        rolled back when the block raises."""
        return _Scope(self, autocommit=False)

    def acquire(self):
        """Return a context manager for a connection where each statement commits."""
        return _Scope(self, autocommit=True)

    def __repr__(self):
        return f"<ctx.db {self.app_id}>"


class DbConnection:
    """What ``session()`` and ``acquire()`` yield."""

    def __init__(self, conn):
        self._conn = conn

    async def execute(self, sql, params=None):
        """Run ``sql`` with ``:name`` parameters from ``params``; return a Result.

        Raises apps.db.errors.DbError subclasses: DbParameterError (nothing
        ran), DbPermissionError, DbProgrammingError, DbIntegrityError, ...
        """
        future = _queries.submit(self._conn.execute, sql, params)
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            if not future.done():
                _queries.submit(self._conn.cancel)
            raise


class _Scope:
    def __init__(self, face, autocommit):
        self._face = face
        self._autocommit = autocommit
        self._conn = None

    async def __aenter__(self):
        future = _checkouts.submit(
            core.Connection.open,
            self._face.backend,
            self._face.app_id,
            self._autocommit,
        )
        try:
            self._conn = await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            future.add_done_callback(_release_unused)
            raise
        return DbConnection(self._conn)

    async def __aexit__(self, exc_type, exc, tb):
        # One thread call commits (or rolls back) and releases, so a
        # cancellation arriving now cannot leave the connection checked out.
        future = _queries.submit(self._conn.finish, exc_type is None)
        await asyncio.wrap_future(future)
        return False


def _release_unused(future):
    if not future.cancelled() and future.exception() is None:
        _queries.submit(future.result().finish, False)
