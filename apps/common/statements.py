"""Run a core's operations: generators of SQL statements, on a Django or a pooled connection.

A surface core (the store's Operations, notify's insert) does no I/O: an
operation is a generator that yields ``(sql, params)`` and receives the rows,
and yields BEGIN / COMMIT around a transaction. :func:`drive` is the one loop
that feeds it; a connection adapter says how to execute. The Django adapter
(the caller's thread and transaction) never suspends, so :func:`run_on_django`
drives the same coroutine synchronously. :func:`run_pooled` lends the
operation one of the process-wide PostgreSQL connections (autocommit,
prepared statements) that every event loop shares.
"""

import atexit

import psycopg
from django.conf import settings
from django.db import DatabaseError, connections, transaction

from .asyncpool import PoolTimeout, SharedAsyncPool

BEGIN = "BEGIN"  # a driver opens a transaction (a savepoint when nested)
COMMIT = "COMMIT"  # ... and commits it; an exception in between rolls it back
# A savepoint when a transaction is open (so a statement that fails inside it
# leaves that transaction usable), nothing in autocommit; closed by COMMIT.
SAVEPOINT = "SAVEPOINT"
PREPARE_THRESHOLD = 2  # the cores' statements are few and repeat


async def drive(operation, connection, translate, request=None):
    """Feed ``operation`` the replies of ``connection`` until it returns; return that.

    ``request`` is the operation's first statement when the caller already
    took it. A driver error inside rolls back any open transaction and raises
    ``translate(exc)``; any other exception rolls back and propagates.
    """
    blocks, reply = [], None
    try:
        while True:
            if request is None:
                try:
                    request = operation.send(reply)
                except StopIteration as stop:
                    return stop.value
            if request == BEGIN:
                blocks.append(await connection.begin())
                reply = None
            elif request == SAVEPOINT:
                blocks.append(await connection.savepoint(bool(blocks)))
                reply = None
            elif request == COMMIT:
                await connection.commit(blocks.pop())
                reply = None
            else:
                reply = await connection.execute(request)
            request = None
    except connection.errors as exc:
        await _unwind(connection, blocks, exc)
        raise translate(exc) from exc
    except BaseException as exc:
        await _unwind(connection, blocks, exc)
        raise
    finally:
        operation.close()


def run_on_django(operation, translate, alias="default"):
    """Drive ``operation`` on the calling thread's Django connection; return its result.

    It shares the caller's transaction. Raises what :func:`drive` raises.
    """
    coroutine = drive(operation, DjangoAdapter(alias), translate)
    try:
        coroutine.send(None)
    except StopIteration as stop:
        return stop.value
    coroutine.close()
    raise RuntimeError("a Django connection adapter suspended; it must not")


def pool_size():
    """Return how many pooled connections the cores may open; 0 when the pool is off.

    The pool serves PostgreSQL only (IMPERAL_STORE_ASYNC_POOL); 0, and
    SQLite, keep operations on the caller's thread and Django connection.
    """
    return settings.IMPERAL_STORE_ASYNC_POOL if settings.IS_POSTGRES else 0


async def run_pooled(operation, translate):
    """Drive ``operation`` on a pooled PostgreSQL connection; return its result.

    The operation validates its arguments before its first statement, so a
    bad call raises before a connection is taken. A database error, or no
    free connection within IMPERAL_STORE_POOL_TIMEOUT seconds, raises
    ``translate(exc)``.
    """
    try:
        request = operation.send(None)
    except StopIteration as stop:
        return stop.value
    _pool.max_size = pool_size()
    _pool.timeout = settings.IMPERAL_STORE_POOL_TIMEOUT
    try:
        connection = await _pool.acquire()
    except (PoolTimeout, psycopg.Error) as exc:
        operation.close()
        raise translate(exc) from exc
    try:
        return await drive(operation, PooledAdapter(connection), translate, request)
    finally:
        _pool.release(connection)


def close_pool():
    """Close every idle pooled connection (busy ones go back when released)."""
    _pool.close_idle()


class DjangoAdapter:
    """Statements on one Django connection; its methods never suspend."""

    errors = DatabaseError

    def __init__(self, alias):
        self.alias = alias

    async def begin(self):
        block = transaction.atomic(using=self.alias)
        block.__enter__()
        return block

    async def savepoint(self, nested):
        if nested or connections[self.alias].in_atomic_block:
            return await self.begin()
        return None

    async def commit(self, block):
        if block is not None:
            block.__exit__(None, None, None)

    async def rollback(self, block, exc):
        if block is not None:
            block.__exit__(type(exc), exc, exc.__traceback__)

    async def execute(self, request):
        with connections[self.alias].cursor() as cursor:
            cursor.execute(*request)
            return cursor.fetchall() if cursor.description else []


class PooledAdapter:
    """Statements on one borrowed psycopg AsyncConnection."""

    errors = psycopg.Error

    def __init__(self, connection):
        self.connection = connection

    async def begin(self):
        block = self.connection.transaction()
        await block.__aenter__()
        return block

    async def savepoint(self, nested):
        # A pooled connection is in autocommit unless this operation began a block.
        return await self.begin() if nested else None

    async def commit(self, block):
        if block is not None:
            await block.__aexit__(None, None, None)

    async def rollback(self, block, exc):
        if block is not None:
            await block.__aexit__(type(exc), exc, exc.__traceback__)

    async def execute(self, request):
        cursor = await self.connection.execute(*request)
        # pgresult, not description: description builds column objects.
        if cursor.pgresult.status == psycopg.pq.ExecStatus.TUPLES_OK:
            return await cursor.fetchall()
        return []


async def _unwind(connection, blocks, exc):
    while blocks:
        try:
            await connection.rollback(blocks.pop(), exc)
        except connection.errors:
            blocks.clear()  # the connection is broken; the pool drops it


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


_pool = SharedAsyncPool(_connect, max_size=1, name="the platform's async pool")
atexit.register(close_pool)
