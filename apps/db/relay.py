"""ctx.db for isolated workers: their statements and transactions, run in this process.

A worker opens no socket to a database (DESIGN §8b): the gateway runs its
statements here through the same core as ctx.db in-process
(:class:`apps.db.core.Connection`: the extension's own role and schema, or its
own file), so the database enforces the same isolation.

A statement outside a transaction checks a connection out, runs, commits and
releases it. A transaction that spans requests (a worker's ``session()``) is
a checked-out connection held here between them, in a registry keyed by an
unguessable id and bound to the invocation that opened it (app, user, call
token id). It is rolled back and released when it has been idle for the
extension's IDLE_IN_TRANSACTION_TIMEOUT (IMPERAL_DB, EXTENSION_OPTIONS) or
when its call token expires, whichever comes first; an extension holds at
most WORKER_SESSIONS of them in one process. A session lives in the process
that opened it: another process of the same server does not know its id.

Every statement runs on one event loop of this process (a daemon thread, the
relay's own), which also keeps the timers that end idle sessions; request
threads hand it work and wait for the answer.
"""

import asyncio
import collections
import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from . import core
from .errors import DbError, DbSessionLimit, DbSessionNotHeld

logger = logging.getLogger(__name__)

DEFAULT_SESSIONS_PER_EXTENSION = 5
DEFAULT_KEEPALIVE_SECONDS = 15
SESSION_ID_BYTES = 32
#: Ended-for-idling session ids remembered, so a late statement learns why.
REAPED_MEMORY = 1024
IDLE_LIMIT = "IDLE_IN_TRANSACTION_TIMEOUT"


@dataclass(frozen=True)
class Owner:
    """The invocation a session belongs to: its app, its call token's user and id."""

    app_id: str
    user_id: str
    token_id: str


class HeldSession:
    """One open transaction: its connection, owner, deadlines and timer."""

    __slots__ = ("owner", "connection", "expires_at", "idle", "busy", "timer")

    def __init__(self, owner, connection, expires_at, idle):
        self.owner = owner
        self.connection = connection
        self.expires_at = expires_at  # the call token's expiry (Unix seconds)
        self.idle = idle  # seconds idle before it is ended (0: until expiry)
        self.busy = 0  # statements running now
        self.timer = None


class Relay:
    """Statements and held transactions of workers' ctx.db, on this process's loop.

    The public methods block the calling thread until the relay's loop has
    done the work; each raises what the core raises (DbError subclasses,
    TypeError for SQL that is not text) plus DbSessionNotHeld and
    DbSessionLimit. ``backend`` (tests) names the backend; None: this
    process's.
    """

    clock = staticmethod(time.time)

    def __init__(self, backend=None):
        self._backend = backend
        self._sessions = {}  # id -> HeldSession
        self._per_app = collections.Counter()
        self._reaped = collections.OrderedDict()  # id -> Owner, ended for idling
        self._tasks = set()
        self._loop = None
        self._lock = threading.Lock()

    # --- called from request threads -----------------------------------------

    def execute(self, app_id, sql, params):
        """Run one statement as ``app_id`` and commit it; return its Result."""
        return self._run(self._execute(app_id, sql, params))

    def begin(self, owner, expires_at):
        """Open a transaction for ``owner``; return ``(session_id, idle_seconds)``.

        ``expires_at`` is the call token's expiry (Unix seconds). Raises
        DbSessionLimit when the extension holds WORKER_SESSIONS already.
        """
        return self._run(self._begin(owner, expires_at))

    def execute_in(self, session_id, owner, sql, params):
        """Run one statement in ``owner``'s transaction ``session_id``; return its Result."""
        return self._run(self._execute_in(session_id, owner, sql, params))

    def end(self, session_id, owner, commit):
        """Commit (``commit`` true) or roll back ``owner``'s transaction, and release it.

        Rolling back a session this relay ended for idling succeeds (it was
        rolled back); committing it raises the idle timeout's DbTimeout.
        """
        return self._run(self._end(session_id, owner, commit))

    def holds(self, session_id, owner):
        """Return whether this process holds ``owner``'s session ``session_id``.

        Asking does not count as use: the idle timer keeps running.
        """
        return self._run(self._holds(session_id, owner))

    def held(self):
        """Return how many sessions this process holds now, by app_id."""
        return self._run(self._held_counts())

    def close(self):
        """Roll back and release every held session; stop the loop."""
        with self._lock:
            loop, self._loop = self._loop, None
        if loop is None:
            return
        asyncio.run_coroutine_threadsafe(self._end_all(), loop).result()
        loop.call_soon_threadsafe(loop.stop)

    def _run(self, coroutine):
        return asyncio.run_coroutine_threadsafe(
            coroutine, self._running_loop()
        ).result()

    def _running_loop(self):
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                threading.Thread(
                    target=loop.run_forever, name="ctx-db-relay", daemon=True
                ).start()
                self._loop = loop
            return self._loop

    # --- on the relay's loop ----------------------------------------------------

    async def _execute(self, app_id, sql, params):
        conn = await core.ExtensionConnections(app_id, self._backend).open(True)
        try:
            return await conn.execute(sql, params)
        finally:
            await conn.finish(True)  # autocommit: each statement committed itself

    async def _begin(self, owner, expires_at):
        app_id = owner.app_id
        limit = sessions_per_extension()
        if self._per_app[app_id] >= limit:
            raise DbSessionLimit(
                f"extension {app_id!r} holds {limit} ctx.db sessions in this gateway "
                f"process, its limit (IMPERAL_DB['WORKER_SESSIONS']); retry when one "
                "ends"
            )
        self._per_app[app_id] += 1  # before the await: the slot is taken now
        try:
            conn = await core.ExtensionConnections(app_id, self._backend).open(False)
        except BaseException:
            self._forget_slot(app_id)
            raise
        session_id = secrets.token_urlsafe(SESSION_ID_BYTES)
        idle = self._timeouts(app_id).idle_in_transaction
        held = HeldSession(owner, conn, expires_at, idle)
        self._sessions[session_id] = held
        self._arm(session_id, held)
        return session_id, idle

    async def _execute_in(self, session_id, owner, sql, params):
        held = self._held(session_id, owner)
        held.busy += 1
        if held.timer is not None:
            held.timer.cancel()
        try:
            return await held.connection.execute(sql, params)
        finally:
            held.busy -= 1
            if self._sessions.get(session_id) is held:
                self._arm(session_id, held)

    async def _end(self, session_id, owner, commit):
        reaped = self._reaped.get(session_id)
        if reaped is not None and reaped == owner:
            del self._reaped[session_id]
            if commit:
                raise self._timeouts(owner.app_id).error(IDLE_LIMIT)
            return
        held = self._held(session_id, owner)
        self._forget(session_id, held)
        await held.connection.finish(commit)

    async def _held_counts(self):
        return dict(self._per_app)

    async def _holds(self, session_id, owner):
        held = self._sessions.get(session_id)
        return held is not None and held.owner == owner

    async def _end_all(self):
        for session_id, held in list(self._sessions.items()):
            self._forget(session_id, held)
            await self._release(held)

    def _held(self, session_id, owner):
        held = self._sessions.get(session_id) if isinstance(session_id, str) else None
        if held is not None and held.owner == owner:
            return held
        if held is None and self._reaped.get(session_id) == owner:
            raise self._timeouts(owner.app_id).error(IDLE_LIMIT)
        raise DbSessionNotHeld(
            "ctx.db session not held by this gateway process: it was ended, "
            "belongs to another invocation, or was opened through another process "
            "of this server (a session's requests must reach the process that "
            "opened it)",
            foreign=held is not None,
        )

    def _arm(self, session_id, held):
        """(Re)start the timer that ends ``held`` when idle or expired."""
        delay = held.expires_at - self.clock()
        if held.idle:
            delay = min(delay, held.idle)
        held.timer = asyncio.get_running_loop().call_later(
            max(0.0, delay), self._expire, session_id, held
        )

    def _expire(self, session_id, held):
        if held.busy or self._sessions.get(session_id) is not held:
            return  # a statement is running: its end re-arms the timer
        self._forget(session_id, held)
        self._reaped[session_id] = held.owner
        while len(self._reaped) > REAPED_MEMORY:
            self._reaped.popitem(last=False)
        task = asyncio.get_running_loop().create_task(self._release(held))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _release(self, held):
        try:
            await held.connection.finish(False)
        except DbError as exc:
            logger.warning(
                "ctx.db: rolling back an ended worker session of %s failed: %s",
                held.owner.app_id,
                type(exc).__name__,
            )

    def _forget(self, session_id, held):
        if held.timer is not None:
            held.timer.cancel()
        del self._sessions[session_id]
        self._forget_slot(held.owner.app_id)

    def _forget_slot(self, app_id):
        self._per_app[app_id] -= 1
        if self._per_app[app_id] <= 0:
            del self._per_app[app_id]

    def _timeouts(self, app_id):
        return (self._backend or core.get_backend()).timeouts(app_id)


def sessions_per_extension():
    """Return IMPERAL_DB["WORKER_SESSIONS"]; raise ImproperlyConfigured naming it."""
    value = settings.IMPERAL_DB.get("WORKER_SESSIONS", DEFAULT_SESSIONS_PER_EXTENSION)
    try:
        limit = int(value)
    except (TypeError, ValueError):
        limit = 0
    if isinstance(value, bool) or limit < 1:
        raise ImproperlyConfigured(
            f"IMPERAL_DB['WORKER_SESSIONS'] must be an integer >= 1, got {value!r:.40}"
        )
    return limit


def keepalive_seconds():
    """Return IMPERAL_DB["WORKER_KEEPALIVE"] (0: workers do not ping idle sessions).

    Raises ImproperlyConfigured naming the key.
    """
    value = settings.IMPERAL_DB.get("WORKER_KEEPALIVE", DEFAULT_KEEPALIVE_SECONDS)
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = -1.0
    if isinstance(value, bool) or not 0 <= seconds < float("inf"):
        raise ImproperlyConfigured(
            f"IMPERAL_DB['WORKER_KEEPALIVE'] must be a number of seconds >= 0 "
            f"(0: no pings), got {value!r:.40}"
        )
    return seconds


_relay = None
_relay_lock = threading.Lock()


def get_relay():
    """Return this process's Relay, made on first use."""
    global _relay
    if _relay is None:
        with _relay_lock:
            if _relay is None:
                _relay = Relay()
    return _relay


def _forget_inherited_relay():
    # A forked child has no copy of the relay's thread; its sessions are the parent's.
    global _relay, _relay_lock
    _relay, _relay_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_inherited_relay)
