"""The asynchronous driver: the core's operations on psycopg async connections.

One pool per process of PostgreSQL connections (autocommit, server-side
binding, prepared statements). A psycopg AsyncConnection belongs to no event
loop between statements, so every loop borrows from the same idle connections:
an ASGI server's one loop and the fresh loop ``async_to_sync`` makes for each
CLI, Celery or REST call all reuse warm, prepared connections, and each call
costs one round trip on the calling loop's own thread.
"""

import atexit

import psycopg
from django.conf import settings
from django.db import connections

from imperal_platform.asyncpool import PoolTimeout, SharedAsyncPool

from .backends.base import BEGIN, COMMIT
from .connections import BACKENDS, translated

BACKEND = BACKENDS["postgresql"]
PREPARE_THRESHOLD = 2  # the store's statements are few and repeat


def size():
    """Return how many connections the async pool may open, 0 when it is off.

    The pool serves PostgreSQL only; 0 (and SQLite) keeps calls on the
    caller's thread and Django connection, inside its transaction.
    """
    return settings.IMPERAL_STORE_ASYNC_POOL if settings.IS_POSTGRES else 0


async def run(operation, max_size, translate=translated):
    """Drive ``operation`` on a pooled connection; return its result.

    The operation validates its arguments before its first statement, so a bad
    call raises before a connection is taken. A database error, or no free
    connection within ``IMPERAL_STORE_POOL_TIMEOUT`` seconds, raises
    ``translate(exc)`` (by default the store's StoreUnavailable/StoreFailure).
    """
    try:
        request = operation.send(None)
    except StopIteration as stop:
        return stop.value
    _pool.max_size, _pool.timeout = max_size, settings.IMPERAL_STORE_POOL_TIMEOUT
    try:
        connection = await _pool.acquire()
    except (PoolTimeout, psycopg.Error) as exc:
        operation.close()
        raise translate(exc) from exc
    try:
        return await _drive(connection, operation, request, translate)
    finally:
        _pool.release(connection)


def close_all():
    """Close every idle connection (busy ones go back to the pool when released)."""
    _pool.close_idle()


async def _connect():
    params = connections["default"].get_connection_params()
    for django_only in ("context", "cursor_factory", "prepare_threshold"):
        params.pop(django_only, None)
    connection = await psycopg.AsyncConnection.connect(
        autocommit=True, prepare_threshold=PREPARE_THRESHOLD, **params
    )
    try:
        await connection.execute("SET TIME ZONE 'UTC'")
    except BaseException:
        connection.pgconn.finish()
        raise
    return connection


async def _drive(connection, operation, request, translate):
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
        raise translate(exc) from exc
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


_pool = SharedAsyncPool(_connect, max_size=1, name="ctx.store")
atexit.register(close_all)
