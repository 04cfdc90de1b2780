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
    (SQLite); filtering rows by user stays the extension's job.
    """

    __slots__ = ("_app_id", "_backend", "_partition")

    def __init__(self, app_id, backend=None, partition=None):
        self._app_id = app_id
        self._backend = backend
        self._partition = partition

    @property
    def app_id(self):
        """The extension whose area this face reaches; fixed when it is built."""
        return self._app_id

    @app_id.setter
    def app_id(self, value):
        if self._partition is not None:
            record_threat("db_app_id_reassign", self._partition, target=value)
        raise AttributeError(
            "ctx.db.app_id is fixed when the context is built; an extension's SQL "
            "reaches only its own schema"
        )

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

    __slots__ = ("_conn",)

    def __init__(self, conn):
        self._conn = conn

    async def execute(self, sql, params=None):
        """Run ``sql`` with ``:name`` parameters from ``params``; return a Result.

        Raises apps.db.errors.DbError subclasses: DbParameterError (nothing
        ran), DbPermissionError, DbProgrammingError, DbIntegrityError, ...
        """
        return await self._conn.execute(sql, params)


class _Scope:
    __slots__ = ("_face", "_autocommit", "_conn")

    def __init__(self, face, autocommit):
        self._face = face
        self._autocommit = autocommit
        self._conn = None

    async def __aenter__(self):
        self._conn = await core.Connection.open(
            self._face.backend, self._face.app_id, self._autocommit
        )
        return DbConnection(self._conn)

    async def __aexit__(self, exc_type, exc, tb):
        await self._conn.finish(exc_type is None)
        return False
