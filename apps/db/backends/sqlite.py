"""ctx.db on SQLite (the embedded default): one database file per extension.

Every connection is guarded (apps.db.backends.sqlite_guard): an authorizer
allows only listed pragmas, functions and virtual-table modules (so no
ATTACH of the platform's file, no process-wide pragmas, no load_extension()),
limits bound what one statement may build, and a deadline
(IMPERAL_DB["STATEMENT_TIMEOUT"]) stops a statement that runs too long.
A pooled connection that was left holding TEMP objects is closed, not lent
to the next caller.
"""

import fcntl
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path

from apps.db import errors, naming
from apps.db.sql import SQLITE_STYLE

from . import sqlite_guard as guard
from .base import BackendConnection, BaseBackend

# Runs before the guard is installed: these pragmas are the platform's choice.
_SETUP = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
_DATABASES = "PRAGMA database_list"
# Only asked when the TEMP database was opened: asking opens it.
_HAS_TEMP_OBJECTS = "SELECT 1 FROM temp.sqlite_master LIMIT 1"
# SQLITE_ERROR is how SQLite reports bad SQL (syntax, unknown table);
# busy, locked, I/O and full-disk codes are operational.
_SQLITE_ERROR = 1
_SQLITE_AUTH = 23


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

    def connect(self, app_id, max_sql_bytes=guard.MAX_SQL_BYTES):
        """Return a new GuardedConnection to ``app_id``'s file."""
        conn = sqlite3.connect(
            self.path(app_id),
            timeout=self.busy_timeout,
            isolation_level=None,
            check_same_thread=False,
            factory=guard.GuardedConnection,
        )
        try:
            conn.executescript(_SETUP)
            conn.guard(max_sql_bytes)
        except BaseException:
            conn.close()
            raise
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
        return SqliteConnection(pool, conn, self.timeouts(app_id))

    def run_script(self, app_id, script):
        """Run ``script`` on ``app_id``'s file in one transaction (see BaseBackend).

        Migrations have no deadline (migrate_extensions is the operator's
        command); the guard's allow-lists and limits apply.
        """
        script = f"BEGIN IMMEDIATE;\n{script}\n;\nCOMMIT;"
        guard.check_sql(script, guard.MAX_MIGRATION_SQL_BYTES)
        self.provision(app_id)
        with self.translated():
            conn = self.connect(app_id, guard.MAX_MIGRATION_SQL_BYTES)
            try:
                conn.start(0)
                conn.executescript(script)
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    conn.rollback()
                error = guard.refused(conn, exc, self.timeouts(app_id))
                if error is not None:
                    raise error from exc
                raise
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
            return errors.DbPermissionError(f"permission denied: {message}")
        if isinstance(exc, sqlite3.IntegrityError):
            return errors.DbIntegrityError(message)
        if isinstance(exc, sqlite3.DataError):
            return errors.DbDataError(message)
        if isinstance(exc, sqlite3.ProgrammingError | sqlite3.InterfaceError):
            return errors.DbProgrammingError(message)
        if isinstance(exc, sqlite3.OperationalError):
            if code == _SQLITE_ERROR:
                return errors.DbProgrammingError(message)
            return errors.DbOperationalError(message)
        return errors.DbError(message)


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
                raise errors.DbOperationalError(
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
        """Take ``conn`` back; close it instead when it cannot be reused cleanly."""
        try:
            if conn.in_transaction:
                conn.rollback()
            # TEMP objects live as long as the connection: the next caller
            # (another user, perhaps) must not find them.
            opened = {row[1] for row in conn.execute(_DATABASES)}
            reusable = "temp" not in opened or not (
                conn.execute(_HAS_TEMP_OBJECTS).fetchone()
            )
        except sqlite3.Error:
            self._drop(conn)  # unusable: never hand it out again
            raise
        with self._cond:
            if self._closed or not reusable:
                self._open -= 1
                conn.close()
            else:
                self._idle.append(conn)
            self._cond.notify()

    def _drop(self, conn):
        conn.close()
        with self._cond:
            self._open -= 1
            self._cond.notify()

    def close(self):
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._open -= len(idle)
        for conn in idle:
            conn.close()


class SqliteConnection(BackendConnection):
    """A pooled GuardedConnection to one extension's file."""

    def __init__(self, pool, conn, timeouts):
        self._pool = pool
        self._conn = conn
        self._timeouts = timeouts

    def execute(self, text, values):
        """Run one statement under the deadline; see BackendConnection.

        Raises DbPermissionError (the guard refused), DbTimeout (the deadline
        passed), errors.DbDataError (a value over the size limit), or sqlite3 errors.
        """
        guard.check_sql(text)
        guard.check_values(values)
        conn = self._conn
        conn.start(self._timeouts.statement)
        try:
            cursor = conn.execute(text, values)
            if cursor.description is None:
                return (), [], cursor.rowcount
            columns = [column[0] for column in cursor.description]
            rows = cursor.fetchall()
        except sqlite3.Error as exc:
            error = guard.refused(conn, exc, self._timeouts)
            if error is not None:
                raise error from exc
            raise
        finally:
            conn.stop()
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
