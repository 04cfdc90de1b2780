"""The shared async pool (ctx.store's and ctx.db's) across a PostgreSQL restart.

Idle pooled connections whose server restarted or was killed are found dead
before they are lent, so the first operation after the restart succeeds on
every one of them; a server that accepts but never answers costs a caller at
most the pool's timeout, as PoolTimeout, and a Django connection at most
libpq's connect_timeout the settings give it.
"""

import asyncio
import time

import psycopg
import pytest
from django.db import OperationalError
from django.db.backends.postgresql.base import DatabaseWrapper

from apps.common.asyncpool import PoolTimeout, SharedAsyncPool

from .services import HOST

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
SIZE = 3


def pool_on(pg, timeout=5.0):
    async def connect():
        return await psycopg.AsyncConnection.connect(
            pg.url("postgres"), autocommit=True
        )

    return SharedAsyncPool(connect, max_size=SIZE, timeout=timeout, name="test pool")


async def select_one(pool):
    connection = await pool.acquire()
    try:
        return (await (await connection.execute("SELECT 1")).fetchone())[0]
    finally:
        pool.release(connection)


async def warm(pool):
    """Open SIZE connections at once and leave them idle in the pool."""
    connections = [await pool.acquire() for _ in range(SIZE)]
    for connection in connections:
        await connection.execute("SELECT 1")
        pool.release(connection)


@pytest.mark.parametrize("fault", ["restart", "sigkill"])
def test_the_first_operation_after_a_restart_succeeds_on_every_connection(stack, fault):
    pool = pool_on(stack.pg)
    asyncio.run(warm(pool))
    if fault == "restart":
        stack.pg.stop()
    else:
        stack.pg.kill()
    stack.pg.start()

    async def after():
        return await asyncio.gather(*(select_one(pool) for _ in range(SIZE)))

    assert asyncio.run(after()) == [1] * SIZE
    pool.close()


def test_a_server_that_never_answers_costs_at_most_the_pool_timeout(stack):
    pool = pool_on(stack.pg, timeout=1.0)
    stack.pg.pause()
    try:
        started = time.monotonic()
        with pytest.raises(PoolTimeout, match="could not open a connection within 1 s"):
            asyncio.run(select_one(pool))
        assert time.monotonic() - started < 2.0
    finally:
        stack.pg.resume()
    assert asyncio.run(select_one(pool)) == 1
    pool.close()


def test_a_django_connection_to_a_server_that_never_answers_gives_up(
    stack, settings, django_db_blocker
):
    platform = settings.DATABASES["default"]
    timeout = platform["OPTIONS"]["connect_timeout"]  # IMPERAL_DB_CONNECT_TIMEOUT
    frozen = DatabaseWrapper(
        {**platform, "HOST": HOST, "PORT": stack.pg.port, "NAME": "postgres"},
        alias="frozen",
    )
    stack.pg.pause()
    try:
        started = time.monotonic()
        # Not the test database: a wrapper of its own, so pytest-django must be
        # told it may connect.
        with (
            django_db_blocker.unblock(),
            pytest.raises(OperationalError, match="timeout"),
        ):
            frozen.ensure_connection()
        assert time.monotonic() - started < timeout + 3
    finally:
        stack.pg.resume()
        frozen.close()
