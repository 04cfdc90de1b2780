"""The asynchronous driver: the core's operations on psycopg async connections.

Each event loop gets its own small pool of PostgreSQL connections (autocommit,
server-side binding, prepared statements), so ``await ctx.store.get(...)``
costs one round trip on the loop's own thread, and coroutines of one loop run
their store calls side by side. Pools of closed loops are closed with them.
"""

import asyncio
import collections
import os
import threading
import weakref

import psycopg
from django.db import connections

from .backends.base import BEGIN, COMMIT
from .connections import BACKENDS, translated

BACKEND = BACKENDS["postgresql"]
PREPARE_THRESHOLD = 2  # the store's statements are few and repeat
_pools = weakref.WeakKeyDictionary()  # event loop -> LoopPool
_pools_lock = threading.Lock()  # loops of several threads may open pools at once


async def run(operation, max_size):
    """Drive ``operation`` on a connection of this event loop's pool; return its result.

    The operation validates its arguments before its first statement, so a bad
    call raises before a connection is taken.
    """
    try:
        request = operation.send(None)
    except StopIteration as stop:
        return stop.value
    pool = _pool(max_size)
    connection = await pool.acquire()
    try:
        return await _drive(connection, operation, request)
    finally:
        pool.release(connection)


def close_all():
    """Close every pooled connection of every event loop (they reopen on demand)."""
    with _pools_lock:
        for pool in list(_pools.values()):
            pool.close()


class LoopPool:
    """At most ``max_size`` connections, used by one event loop's coroutines."""

    def __init__(self, max_size):
        self.max_size = max_size
        self.idle = []
        self.open = set()
        self.waiters = collections.deque()

    async def acquire(self):
        while True:
            while self.idle:
                connection = self.idle.pop()
                if not (connection.closed or connection.broken):
                    return connection
                self.open.discard(connection)
            if len(self.open) < self.max_size:
                return await self._connect()
            waiter = asyncio.get_running_loop().create_future()
            self.waiters.append(waiter)
            await waiter

    def release(self, connection):
        status = connection.info.transaction_status
        if (
            connection.closed
            or connection.broken
            or status != psycopg.pq.TransactionStatus.IDLE
        ):
            # Cancelled mid-statement or broken: never hand it to someone else.
            self.open.discard(connection)
            connection.pgconn.finish()
        else:
            self.idle.append(connection)
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                break

    def close(self):
        for connection in self.open:
            connection.pgconn.finish()
        self.open.clear()
        self.idle.clear()

    async def _connect(self):
        params = connections["default"].get_connection_params()
        for django_only in ("context", "cursor_factory", "prepare_threshold"):
            params.pop(django_only, None)
        try:
            connection = await psycopg.AsyncConnection.connect(
                autocommit=True, prepare_threshold=PREPARE_THRESHOLD, **params
            )
            await connection.execute("SET TIME ZONE 'UTC'")
        except psycopg.Error as exc:
            raise translated(exc) from exc
        self.open.add(connection)
        return connection


def _pool(max_size):
    loop = asyncio.get_running_loop()
    pool = _pools.get(loop)
    if pool is not None:
        return pool
    with _pools_lock:
        # async_to_sync runs each call on a new loop: close the pools of loops
        # that have finished instead of waiting for them to be collected.
        for old_loop, old_pool in list(_pools.items()):
            if old_loop.is_closed():
                old_pool.close()
                del _pools[old_loop]
        pool = _pools[loop] = LoopPool(max_size)
        pool.finalizer = weakref.finalize(loop, pool.close)
    return pool


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


_inherited = []


def _forget_after_fork():
    # A forked child (Celery prefork) must neither use nor close the parent's
    # sockets (closing sends the server a goodbye on the parent's behalf), so
    # it keeps the objects alive and opens its own.
    global _pools_lock
    _pools_lock = threading.Lock()
    for pool in _pools.values():
        pool.finalizer.detach()
        _inherited.append(pool)
    _pools.clear()


os.register_at_fork(after_in_child=_forget_after_fork)
