"""The contract every ctx.db backend implements (one backend per module).

A backend module exports ``DatabaseBackend`` (a subclass of BaseBackend);
``settings.IMPERAL_DB["BACKEND"]`` names the module. Backends own isolation
(who the SQL runs as, what it can reach) and translate their driver's
exceptions into ``apps.db.errors`` at the edge. The core (``apps.db.core``)
owns parameters, results and transactions.
"""

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from apps.db.errors import DbError


class BaseBackend:
    """A database engine that holds one isolated area per extension."""

    #: Selects migration files: ``001_x.<vendor>.sql`` applies to this vendor only.
    vendor = None
    #: Placeholder format for apps.db.sql (POSTGRES_STYLE or SQLITE_STYLE).
    placeholder_style = None
    #: The driver's exception base class, translated by :meth:`translated`.
    driver_error = ()

    def __init__(self, options):
        self.options = options
        self._pools = {}  # app_id -> that extension's connection pool
        self._lock = threading.Lock()

    # --- methods subclasses must implement ------------------------------------

    def provision(self, app_id):
        """Create, or repair, ``app_id``'s isolated area and identity; idempotent.

        Raises DbError when the platform lacks the rights to do so.
        """
        raise NotImplementedError("subclasses of BaseBackend must provide provision()")

    def deprovision(self, app_id):
        """Drop ``app_id``'s area and identity with all its data; idempotent."""
        raise NotImplementedError(
            "subclasses of BaseBackend must provide deprovision()"
        )

    def checkout(self, app_id, autocommit):
        """Return a blocking BackendConnection acting as ``app_id``.

        With ``autocommit`` False the connection is inside a transaction until
        ``end()``. Waits for a free connection; raises DbOperationalError when
        none frees up in time. A backend with a native async driver overrides
        :meth:`acheckout` instead.
        """
        raise NotImplementedError(
            "subclasses of BaseBackend must provide checkout() or acheckout()"
        )

    async def acheckout(self, app_id, autocommit):
        """Return an AsyncBackendConnection acting as ``app_id`` (see checkout()).

        This default runs the blocking :meth:`checkout` on a thread.
        """
        future = _checkouts.submit(self.checkout, app_id, autocommit)
        try:
            raw = await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            future.add_done_callback(_end_unused)
            raise
        return ThreadedConnection(raw)

    def run_script(self, app_id, script):
        """Run a multi-statement SQL ``script`` as ``app_id`` in one transaction.

        Commits when every statement succeeded; otherwise rolls back and raises
        DbError.
        """
        raise NotImplementedError("subclasses of BaseBackend must provide run_script()")

    def migration_lock(self, app_id):
        """Return a context manager that serializes migration runs of ``app_id``
        across processes."""
        raise NotImplementedError(
            "subclasses of BaseBackend must provide migration_lock()"
        )

    def deprovision_all(self):
        """Drop every extension area of this deployment; return their app_ids."""
        raise NotImplementedError(
            "subclasses of BaseBackend must provide deprovision_all()"
        )

    def translate(self, exc):
        """Return the apps.db.errors exception describing driver exception ``exc``."""
        raise NotImplementedError("subclasses of BaseBackend must provide translate()")

    # --- shared -----------------------------------------------------------------

    def close(self):
        """Close every pooled connection; the backend stays usable (pools reopen)."""
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.close()

    @contextmanager
    def translated(self):
        """Re-raise driver exceptions inside the block as apps.db.errors types."""
        try:
            yield
        except DbError:
            raise
        except self.driver_error as exc:
            raise self.translate(exc) from exc


class BackendConnection:
    """One checked-out connection acting as one extension (blocking calls)."""

    def execute(self, text, values):
        """Run ``text`` (numbered placeholders) with ``values``.

        Return ``(column_names, row_tuples, rowcount)``; raise driver errors
        (the core translates them).
        """
        raise NotImplementedError

    def end(self, commit):
        """Commit (True), roll back (False) or leave (None: autocommit), then
        return the connection to its pool, even when the commit fails."""
        raise NotImplementedError

    def cancel(self):
        """Ask the database to stop the running statement; callable from any thread."""
        raise NotImplementedError


class ThreadedConnection:
    """A blocking BackendConnection driven from the event loop through threads.

    Statements run in a pool of threads apart from checkouts, so a checkout
    waiting for a free connection never holds up the statement that would
    free one. Calls are serialized: ``end`` may run while a cancelled
    ``execute`` is still finishing on another thread.
    """

    def __init__(self, raw):
        self._raw = raw
        self._lock = threading.Lock()

    async def execute(self, text, values):
        future = _queries.submit(self._locked, self._raw.execute, text, values)
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            if not future.done():
                _queries.submit(self._raw.cancel)
            raise

    async def end(self, commit):
        # One thread call, so a cancellation arriving now still releases.
        await asyncio.wrap_future(_queries.submit(self._locked, self._raw.end, commit))

    def _locked(self, method, *args):
        with self._lock:
            return method(*args)


CHECKOUT_THREADS = 32
QUERY_THREADS = 32
_checkouts = ThreadPoolExecutor(CHECKOUT_THREADS, thread_name_prefix="ctx-db-checkout")
_queries = ThreadPoolExecutor(QUERY_THREADS, thread_name_prefix="ctx-db")


def _end_unused(future):
    if not future.cancelled() and future.exception() is None:
        _queries.submit(future.result().end, False)
