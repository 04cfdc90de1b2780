"""ctx.db: the async face an extension calls, over apps.db.core."""

from apps.accounts.security import record_threat

from . import core


def db_for(ctx):
    """Return the ctx.db face of the context's extension."""
    return DbFace(ctx._extension_id, partition=ctx._partition)


class DbFace:
    """``ctx.db``: ``session()`` (one transaction) and ``acquire()`` (autocommit).

    Both are async context managers yielding a DbConnection whose
    ``await execute(sql, params)`` returns an apps.db.result.Result. The
    SQL reaches only the extension's own schema (PostgreSQL) or file
    (SQLite); filtering rows by user stays the extension's job. The face
    holds only a handle that checks out its own extension's connections
    (core.ExtensionConnections), never the backend, which reaches every
    extension. ``backend`` (tests) names the backend; None: this process's.
    """

    __slots__ = ("_connections", "_partition")

    def __init__(self, app_id, backend=None, partition=None):
        self._connections = core.ExtensionConnections(app_id, backend)
        self._partition = partition

    @property
    def app_id(self):
        """The extension whose area this face reaches; fixed when it is built."""
        return self._connections.app_id

    @app_id.setter
    def app_id(self, value):
        self._record("db_app_id_reassign", target=value)
        raise AttributeError(
            "ctx.db.app_id is fixed when the context is built; an extension's SQL "
            "reaches only its own schema"
        )

    @property
    def backend(self):
        """Raise AttributeError, recording a security event: ctx.db has no backend."""
        self._record("db_backend_access", attribute="backend")
        raise AttributeError(
            "ctx.db has no backend: an extension reaches only its own schema, "
            "through ctx.db.session() and ctx.db.acquire()"
        )

    def session(self):
        """Return a context manager for one transaction: committed on success,
        rolled back when the block raises."""
        return DbScope(self._connections, autocommit=False)

    def acquire(self):
        """Return a context manager for a connection where each statement commits."""
        return DbScope(self._connections, autocommit=True)

    def _record(self, kind, **detail):
        if self._partition is not None:
            record_threat(kind, self._partition, **detail)

    def __repr__(self):
        return f"<ctx.db {self.app_id}>"


class DbConnection:
    """What ``session()`` and ``acquire()`` yield."""

    __slots__ = ("_conn",)

    def __init__(self, conn):
        self._conn = conn

    async def execute(self, sql, params=None):
        """Run ``sql`` with ``:name`` parameters from ``params``; return a Result.

        Raises apps.db.errors.DbError subclasses: DbParameterError (nothing
        ran), DbPermissionError, DbProgrammingError, DbIntegrityError, ...
        """
        return await self._conn.execute(sql, params)


class DbScope:
    """What ``session()`` and ``acquire()`` return: ``async with`` it for a
    DbConnection; leaving the block commits (or rolls back) and releases it."""

    __slots__ = ("_connections", "_autocommit", "_conn")

    def __init__(self, connections, autocommit):
        self._connections = connections
        self._autocommit = autocommit
        self._conn = None

    async def __aenter__(self):
        self._conn = await self._connections.open(self._autocommit)
        return DbConnection(self._conn)

    async def __aexit__(self, exc_type, exc, tb):
        await self._conn.finish(exc_type is None)
        return False
