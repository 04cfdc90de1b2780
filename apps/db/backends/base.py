"""The contract every ctx.db backend implements (one backend per module).

A backend module exports ``DatabaseBackend`` (a subclass of BaseBackend);
``settings.IMPERAL_DB["BACKEND"]`` names the module. Backends own isolation
(who the SQL runs as, what it can reach) and translate their driver's
exceptions into ``apps.db.errors`` at the edge. The core (``apps.db.core``)
owns parameters, results and transactions.
"""

import asyncio
import json
import math
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured

from apps.db.errors import DbError, DbTimeout

#: The IMPERAL_DB keys bounding one extension's work, and what each bounds.
TIMEOUT_LIMITS = {
    "STATEMENT_TIMEOUT": "ran longer than",
    "LOCK_TIMEOUT": "waited for a lock longer than",
    "IDLE_IN_TRANSACTION_TIMEOUT": "left its transaction idle longer than",
}


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
        self._defaults = {
            key: _seconds(options.get(key, 0), f"IMPERAL_DB[{key!r}]")
            for key in TIMEOUT_LIMITS
        }
        self._overrides = _extension_overrides(options.get("EXTENSION_OPTIONS"))
        self._timeouts = {}  # app_id -> Timeouts
        self._pools = {}  # app_id -> that extension's connection pool
        self._lock = threading.Lock()

    def timeouts(self, app_id):
        """Return the Timeouts of ``app_id``: IMPERAL_DB's, then its EXTENSION_OPTIONS."""
        timeouts = self._timeouts.get(app_id)
        if timeouts is None:
            values = {**self._defaults, **self._overrides.get(app_id, {})}
            timeouts = Timeouts(app_id, *(values[key] for key in TIMEOUT_LIMITS))
            self._timeouts[app_id] = timeouts
        return timeouts

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


@dataclass(frozen=True)
class Timeouts:
    """How long one extension's SQL may run, wait for a lock, or idle in a
    transaction, in seconds; 0 means no limit."""

    app_id: str
    statement: float
    lock: float
    idle_in_transaction: float

    def seconds(self, limit):
        """Return the value of ``limit``, a key of TIMEOUT_LIMITS."""
        index = list(TIMEOUT_LIMITS).index(limit)
        return (self.statement, self.lock, self.idle_in_transaction)[index]

    def error(self, limit, sqlstate=None):
        """Return the DbTimeout saying that ``limit`` stopped a statement."""
        seconds = self.seconds(limit)
        return DbTimeout(
            f"ctx.db of extension {self.app_id!r} stopped a statement that "
            f"{TIMEOUT_LIMITS[limit]} {limit} = {seconds:g} s; its work was rolled "
            f"back (IMPERAL_DB[{limit!r}], or for this extension only "
            f"IMPERAL_DB['EXTENSION_OPTIONS'][{self.app_id!r}][{limit!r}])",
            limit=limit,
            seconds=seconds,
            app_id=self.app_id,
            sqlstate=sqlstate,
        )


def _extension_overrides(overrides):
    """Return the validated per-extension timeouts: {app_id: {key: seconds}}.

    ``overrides`` is a dict, or its JSON text (IMPERAL_DB_EXTENSION_OPTIONS).
    Raises ImproperlyConfigured naming the setting at fault.
    """
    where = "IMPERAL_DB['EXTENSION_OPTIONS']"
    if isinstance(overrides, str):
        try:
            overrides = json.loads(overrides or "{}")
        except ValueError as exc:
            raise ImproperlyConfigured(f"{where} is not valid JSON: {exc}") from None
    if not isinstance(overrides or {}, Mapping):
        raise ImproperlyConfigured(
            f"{where} must map app_ids to dicts of {', '.join(TIMEOUT_LIMITS)}, "
            f"got {type(overrides).__name__}"
        )
    return {
        app_id: _override(override, f"{where}[{app_id!r}]")
        for app_id, override in (overrides or {}).items()
    }


def _override(override, where):
    if not isinstance(override, Mapping):
        raise ImproperlyConfigured(f"{where} must be a dict, got {override!r:.60}")
    unknown = sorted(set(map(str, override)) - set(TIMEOUT_LIMITS))
    if unknown:
        raise ImproperlyConfigured(
            f"{where} has unknown key(s) {', '.join(unknown)}; "
            f"known: {', '.join(TIMEOUT_LIMITS)}"
        )
    return {
        key: _seconds(value, f"{where}[{key!r}]") for key, value in override.items()
    }


def _seconds(value, where):
    """Return ``value`` (a number, or its text from the environment) as seconds."""
    try:
        seconds = float(value) if isinstance(value, str) else value
    except ValueError:
        seconds = None
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, int | float)
        or not math.isfinite(seconds)
        or seconds < 0
    ):
        raise ImproperlyConfigured(
            f"{where} must be a number of seconds >= 0 (0: no limit), got {value!r:.60}"
        )
    return float(seconds)


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
