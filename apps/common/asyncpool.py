"""A pool of psycopg AsyncConnections that every event loop of the process shares.

psycopg_pool's AsyncConnectionPool runs its workers on the loop that opened it,
while this platform runs handlers on whichever loop calls: an ASGI server's one
loop, and the fresh loop ``async_to_sync`` makes for each CLI, Celery or REST
call. A psycopg AsyncConnection belongs to no loop between statements, so the
idle ones wait here and each borrower uses its connection on its own loop.
ctx.store (one pool per process) and ctx.db (one per extension) both use it.
"""

import asyncio
import collections
import os
import select
import threading
import time

import psycopg


class PoolTimeout(TimeoutError):
    """No connection became free within the pool's timeout."""


class SharedAsyncPool:
    """At most ``max_size`` connections from ``connect``, lent to any event loop.

    ``connect`` is an async callable returning a new AsyncConnection; what it
    raises reaches the borrower unchanged. ``timeout`` is how long a borrower
    waits while every connection is lent (None: as long as it takes). Both
    ``max_size`` and ``timeout`` may be changed while the pool is in use.
    """

    check_after = 30.0  # seconds idle after which a connection is pinged first

    def __init__(self, connect, max_size, timeout=None, name="pool"):
        self.max_size = max_size
        self._connect = connect
        self.timeout = timeout
        self._name = name
        self._lock = threading.Lock()
        self._reset()

    async def acquire(self):
        """Return a connection for the caller's exclusive use; wait while all are lent.

        Raises PoolTimeout when none frees up within the timeout, or when
        opening a new one takes longer (a server that accepts but never
        answers must not hold the caller past it).
        """
        loop = asyncio.get_running_loop()
        deadline = None if self.timeout is None else loop.time() + self.timeout
        while True:
            connection, idle_since, waiter = self._take(loop)
            if waiter is not None:
                await self._wait(waiter, deadline, loop)
            elif connection is None:
                return await self._open(deadline, loop)
            elif await self._usable(connection, idle_since):
                return connection
            else:
                self.discard(connection)

    def release(self, connection):
        """Take a connection back; one mid-transaction, broken or closed is dropped."""
        status = connection.info.transaction_status
        if connection.broken or status != psycopg.pq.TransactionStatus.IDLE:
            self.discard(connection)
            return
        with self._lock:
            if self._pid == os.getpid() and not self._closed:
                self._idle.append((connection, time.monotonic()))
                connection = None
        if connection is None:
            self._wake_one()
        else:
            self.discard(connection)

    def discard(self, connection):
        """Close a borrowed connection instead of returning it."""
        connection.pgconn.finish()
        self._forget_one()

    def close_idle(self):
        """Close the idle connections; the pool stays usable and opens new ones."""
        self._close_idle(closing=False)

    def close(self):
        """Close the idle connections, and every lent one when it comes back."""
        self._close_idle(closing=True)

    def _close_idle(self, closing):
        with self._lock:
            self._closed = self._closed or closing
            idle, self._idle = self._idle, collections.deque()
            self._size -= len(idle)
        for connection, _ in idle:
            # Only frees the socket (no await), so it works from any thread or
            # loop, including at interpreter exit.
            connection.pgconn.finish()

    def _reset(self):
        self._pid = os.getpid()
        self._closed = False
        self._idle = collections.deque()  # (connection, idle since)
        self._size = 0
        self._waiters = collections.deque()  # (loop, future)

    def _take(self, loop):
        with self._lock:
            if self._pid != os.getpid():
                self._forget_parent()
            if self._idle:
                return (*self._idle.pop(), None)
            if self._size < self.max_size:
                self._size += 1
                return None, None, None
            waiter = loop.create_future()
            self._waiters.append((loop, waiter))
            return None, None, waiter

    def _forget_parent(self):
        # A forked child (Celery prefork) must neither use nor close the
        # parent's sockets (closing says goodbye to the server on the parent's
        # behalf), so it keeps them referenced, untouched, and starts afresh.
        _inherited.append(self._idle)
        self._reset()

    async def _wait(self, waiter, deadline, loop):
        if deadline is None:
            await waiter
            return
        try:
            await asyncio.wait_for(waiter, max(0.0, deadline - loop.time()))
        except TimeoutError:
            raise PoolTimeout(
                f"no connection of {self._name} became free within "
                f"{self.timeout:g} s ({self.max_size} in use)"
            ) from None

    async def _usable(self, connection, idle_since):
        if connection.closed or connection.broken:
            return False
        recent = time.monotonic() - idle_since < self.check_after
        if recent and not _has_input(connection):
            return True
        try:
            await connection.execute("SELECT 1")
        except psycopg.Error:
            return False
        return True

    async def _open(self, deadline, loop):
        remaining = None if deadline is None else max(0.0, deadline - loop.time())
        try:
            return await asyncio.wait_for(self._connect(), remaining)
        except TimeoutError:
            self._forget_one()
            raise PoolTimeout(
                f"{self._name} could not open a connection within {self.timeout:g} s"
            ) from None
        except BaseException:
            self._forget_one()
            raise

    def _forget_one(self):
        with self._lock:
            self._size -= 1
        self._wake_one()

    def _wake_one(self):
        with self._lock:
            while self._waiters:
                loop, waiter = self._waiters.popleft()
                if not loop.is_closed():
                    loop.call_soon_threadsafe(self._wake, waiter)
                    return

    def _wake(self, waiter):
        if waiter.done():  # its borrower timed out or was cancelled: pass the turn
            self._wake_one()
        else:
            waiter.set_result(None)


def _has_input(connection):
    """Return whether the server sent an idle connection something, or hung up.

    An idle connection gets nothing unless its server is going away: a
    restart or a terminated backend sends a FATAL message and closes, a
    killed server leaves the socket at EOF; either makes it readable. One
    non-blocking poll instead of a ping keeps the check free for the common
    case, so after a restart the first call gets a fresh connection rather
    than the error of a dead one.
    """
    poller = select.poll()  # not select(): descriptors may pass FD_SETSIZE
    try:
        poller.register(connection.fileno(), select.POLLIN)
        return bool(poller.poll(0))
    except (OSError, ValueError, psycopg.Error):
        return True


_inherited = []
