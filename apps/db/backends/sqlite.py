"""ctx.db on SQLite (the embedded default): one database file per extension.

Every connection carries a sqlite3 authorizer that denies ATTACH and DETACH
(and so the platform's database file), ``load_extension()`` and the pragmas
that reach the file system or the schema's safety; attaching is also limited
to zero databases, which VACUUM INTO needs too.
"""

import fcntl
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path

from apps.db import naming
from apps.db.errors import (
    DbDataError,
    DbError,
    DbIntegrityError,
    DbOperationalError,
    DbPermissionError,
    DbProgrammingError,
)
from apps.db.sql import SQLITE_STYLE

from .base import BackendConnection, BaseBackend

_DENIED_PRAGMAS = frozenset(
    {
        "temp_store_directory",
        "data_store_directory",
        "writable_schema",
        "trusted_schema",
    }
)
_DENIED_FUNCTIONS = frozenset({"load_extension"})
_SETUP = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
# SQLITE_ERROR is how SQLite reports bad SQL (syntax, unknown table);
# busy, locked, I/O and full-disk codes are operational.
_SQLITE_ERROR = 1
_SQLITE_AUTH = 23


def _authorize(action, arg1, arg2, dbname, source):
    if action in (sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH):
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_PRAGMA and (arg1 or "").lower() in _DENIED_PRAGMAS:
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in _DENIED_FUNCTIONS:
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


class DatabaseBackend(BaseBackend):
    """One SQLite file per extension under IMPERAL_DB["SQLITE_DIR"]."""

    vendor = "sqlite"
    placeholder_style = SQLITE_STYLE
    driver_error = sqlite3.Error
    busy_timeout = 20  # seconds; the web process and the worker share each file

    def path(self, app_id):
        """Return the database file of ``app_id``."""
        return Path(self.options["SQLITE_DIR"]) / naming.sqlite_filename(app_id)

    def provision(self, app_id):
        """Create ``app_id``'s database file if needed; return its path."""
        path = self.path(app_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        with self.translated():
            self.connect(app_id).close()
        return path

    def deprovision(self, app_id):
        """Close ``app_id``'s connections and delete its database file."""
        with self._lock:
            pool = self._pools.pop(app_id, None)
        if pool is not None:
            pool.close()
        path = self.path(app_id)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)

    def deprovision_all(self):
        """Delete every extension database file in SQLITE_DIR; return the file names."""
        self.close()
        directory = Path(self.options["SQLITE_DIR"])
        names = sorted(p.name for p in directory.glob("*.sqlite3"))
        for pattern in ("*.sqlite3", "*.sqlite3-wal", "*.sqlite3-shm", "*.lock"):
            for path in directory.glob(pattern):
                path.unlink(missing_ok=True)
        return names

    @contextmanager
    def migration_lock(self, app_id):
        """Hold an exclusive file lock beside ``app_id``'s file (see BaseBackend)."""
        path = self.path(app_id).with_suffix(".lock")
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def connect(self, app_id):
        """Return a new guarded sqlite3 connection to ``app_id``'s file."""
        conn = sqlite3.connect(
            self.path(app_id),
            timeout=self.busy_timeout,
            isolation_level=None,
            check_same_thread=False,
        )
        conn.executescript(_SETUP)
        conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
        conn.set_authorizer(_authorize)
        return conn

    def checkout(self, app_id, autocommit):
        """Return a SqliteConnection to ``app_id``'s file (see BaseBackend)."""
        pool = self._pool(app_id)
        with self.translated():
            conn = pool.get()
            try:
                if not autocommit:
                    # IMMEDIATE takes the write lock up front: a deferred
                    # transaction that reads then writes can fail with BUSY.
                    conn.execute("BEGIN IMMEDIATE")
            except BaseException:
                pool.put(conn)
                raise
        return SqliteConnection(pool, conn)

    def run_script(self, app_id, script):
        """Run ``script`` on ``app_id``'s file in one transaction (see BaseBackend)."""
        self.provision(app_id)
        with self.translated():
            conn = self.connect(app_id)
            try:
                conn.executescript(f"BEGIN IMMEDIATE;\n{script}\n;\nCOMMIT;")
            except BaseException:
                if conn.in_transaction:
                    conn.rollback()
                raise
            finally:
                conn.close()

    def _pool(self, app_id):
        with self._lock:
            pool = self._pools.get(app_id)
            if pool is None:
                self.provision(app_id)
                pool = self._pools[app_id] = _Pool(
                    lambda: self.connect(app_id),
                    self.options["POOL_SIZE"],
                    self.options["POOL_TIMEOUT"],
                    app_id,
                )
            return pool

    def translate(self, exc):
        """Return the apps.db.errors exception for sqlite3 exception ``exc``."""
        code = getattr(exc, "sqlite_errorcode", None)
        message = str(exc)
        # A denied function is reported as a plain SQL error with this message.
        if code == _SQLITE_AUTH or message.startswith("not authorized"):
            return DbPermissionError(f"permission denied: {message}")
        if isinstance(exc, sqlite3.IntegrityError):
            return DbIntegrityError(message)
        if isinstance(exc, sqlite3.DataError):
            return DbDataError(message)
        if isinstance(exc, sqlite3.ProgrammingError | sqlite3.InterfaceError):
            return DbProgrammingError(message)
        if isinstance(exc, sqlite3.OperationalError):
            if code == _SQLITE_ERROR:
                return DbProgrammingError(message)
            return DbOperationalError(message)
        return DbError(message)


class _Pool:
    """A bounded LIFO of idle sqlite3 connections to one file."""

    def __init__(self, connect, size, timeout, app_id):
        self._connect = connect
        self._size = size
        self._timeout = timeout
        self._app_id = app_id
        self._idle = []
        self._open = 0
        self._closed = False
        self._cond = threading.Condition()

    def get(self):
        with self._cond:
            if not self._cond.wait_for(
                lambda: self._idle or self._open < self._size, self._timeout
            ):
                raise DbOperationalError(
                    f"no database connection of extension {self._app_id!r} "
                    f"became free within {self._timeout:g} s"
                )
            if self._idle:
                return self._idle.pop()
            self._open += 1
        try:
            return self._connect()
        except BaseException:
            with self._cond:
                self._open -= 1
                self._cond.notify()
            raise

    def put(self, conn):
        try:
            if conn.in_transaction:
                conn.rollback()
        except sqlite3.Error:
            conn.close()  # unusable: never hand it out again
            with self._cond:
                self._open -= 1
                self._cond.notify()
            raise
        with self._cond:
            if self._closed:
                self._open -= 1
                conn.close()
            else:
                self._idle.append(conn)
            self._cond.notify()

    def close(self):
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._open -= len(idle)
        for conn in idle:
            conn.close()


class SqliteConnection(BackendConnection):
    """A pooled, guarded sqlite3 connection to one extension's file."""

    def __init__(self, pool, conn):
        self._pool = pool
        self._conn = conn

    def execute(self, text, values):
        cursor = self._conn.execute(text, values)
        if cursor.description is None:
            return (), [], cursor.rowcount
        columns = [column[0] for column in cursor.description]
        rows = cursor.fetchall()
        return columns, rows, len(rows) if cursor.rowcount == -1 else cursor.rowcount

    def end(self, commit):
        try:
            if commit is True:
                self._conn.commit()
            elif commit is False:
                self._conn.rollback()
        finally:
            self._pool.put(self._conn)

    def cancel(self):
        self._conn.interrupt()
