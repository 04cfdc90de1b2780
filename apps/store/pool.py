"""The asynchronous driver: the core's operations on psycopg async connections.

One pool per process of PostgreSQL connections (autocommit, server-side
binding, prepared statements). A psycopg AsyncConnection belongs to no event
loop between statements, so every loop borrows from the same idle connections:
an ASGI server's one loop and the fresh loop ``async_to_sync`` makes for each
CLI, Celery or REST call all reuse warm, prepared connections, and each call
costs one round trip on the calling loop's own thread.
"""

import asyncio
import atexit
import collections
import os
import threading
import time

import psycopg
from django.db import connections

from .backends.base import BEGIN, COMMIT
from .connections import BACKENDS, translated

BACKEND = BACKENDS["postgresql"]


async def run(operation, max_size):
    """Drive ``operation`` on a pooled connection; return its result.

    The operation validates its arguments before its first statement, so a bad
    call raises before a connection is taken.
    """
    try:
        request = operation.send(None)
    except StopIteration as stop:
        return stop.value
    connection = await _pool.acquire(max_size)
    try:
        return await _drive(connection, operation, request)
    finally:
        _pool.release(connection)


def close_all():
    """Close every idle connection (busy ones go back to the pool when released)."""
    _pool.close_idle()


class SharedPool:
    """At most ``max_size`` connections, lent to any event loop of this process."""

    prepare_threshold = 2  # the store's statements are few and repeat
    check_after = 30.0  # seconds idle after which a connection is pinged first

    def __init__(self):
        self._lock = threading.Lock()
        self._idle = collections.deque()  # (connection, idle since)
        self._size = 0
        self._waiters = collections.deque()  # (loop, future)

    async def acquire(self, max_size):
        """Return a connection for the caller's exclusive use; wait while all are lent."""
        loop = asyncio.get_running_loop()
        while True:
            connection, idle_since, waiter = self._take(loop, max_size)
            if waiter is not None:
                await waiter
            elif connection is None:
                return await self._open()
            elif await self._usable(connection, idle_since):
                return connection
            else:
                self._discard(connection)

    def release(self, connection):
        """Take a connection back; one cancelled mid-statement or broken is closed."""
        status = connection.info.transaction_status
        if connection.broken or status != psycopg.pq.TransactionStatus.IDLE:
            self._discard(connection)
        else:
            with self._lock:
                self._idle.append((connection, time.monotonic()))
            self._wake_one()

    def close_idle(self):
        with self._lock:
            idle, self._idle = self._idle, collections.deque()
            self._size -= len(idle)
        for connection, _ in idle:
            connection.pgconn.finish()

    def _take(self, loop, max_size):
        with self._lock:
            if self._idle:
                return (*self._idle.pop(), None)
            if self._size < max_size:
                self._size += 1
                return None, None, None
            waiter = loop.create_future()
            self._waiters.append((loop, waiter))
            return None, None, waiter

    async def _usable(self, connection, idle_since):
        if connection.closed or connection.broken:
            return False
        if time.monotonic() - idle_since < self.check_after:
            return True
        try:
            await connection.execute("SELECT 1")
        except psycopg.Error:
            return False
        return True

    async def _open(self):
        params = connections["default"].get_connection_params()
        for django_only in ("context", "cursor_factory", "prepare_threshold"):
            params.pop(django_only, None)
        try:
            connection = await psycopg.AsyncConnection.connect(
                autocommit=True, prepare_threshold=self.prepare_threshold, **params
            )
            await connection.execute("SET TIME ZONE 'UTC'")
        except psycopg.Error as exc:
            self._forget_one()
            raise translated(exc) from exc
        return connection

    def _discard(self, connection):
        connection.pgconn.finish()
        self._forget_one()

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
        if waiter.done():  # its task was cancelled: pass the turn on
            self._wake_one()
        else:
            waiter.set_result(None)


async def _drive(connection, operation, request):
    blocks = []
    try:
        while True:
            if request == BEGIN:
                blocks.append(connection.transaction())
                await blocks[-1].__aenter__()
                reply = None
            elif request == COMMIT:
                await blocks.pop().__aexit__(None, None, None)
                reply = None
            else:
                cursor = await connection.execute(*request)
                # pgresult, not description: description builds column objects.
                returned = cursor.pgresult.status == psycopg.pq.ExecStatus.TUPLES_OK
                reply = await cursor.fetchall() if returned else []
            try:
                request = operation.send(reply)
            except StopIteration as stop:
                return stop.value
    except psycopg.Error as exc:
        await _unwind(blocks, exc)
        raise translated(exc) from exc
    except BaseException as exc:
        await _unwind(blocks, exc)
        raise
    finally:
        operation.close()


async def _unwind(blocks, exc):
    while blocks:
        try:
            await blocks.pop().__aexit__(type(exc), exc, exc.__traceback__)
        except psycopg.Error:
            blocks.clear()  # the connection is broken; release() drops it


_pool = SharedPool()
_inherited = []


def _forget_after_fork():
    # A forked child (Celery prefork) must neither use nor close the parent's
    # sockets (closing sends the server a goodbye on the parent's behalf), so
    # it keeps the parent's pool alive, untouched, and starts its own.
    global _pool
    _inherited.append(_pool)
    _pool = SharedPool()


os.register_at_fork(after_in_child=_forget_after_fork)
atexit.register(close_all)
