"""The shared async pool (ctx.store's and ctx.db's) across a PostgreSQL restart.

Idle pooled connections whose server restarted or was killed are found dead
before they are lent, so the first operation after the restart succeeds on
every one of them; a server that accepts but never answers costs a caller at
most the pool's timeout, as PoolTimeout.
"""

import asyncio
import time

import psycopg
import pytest

from imperal_platform.asyncpool import PoolTimeout, SharedAsyncPool

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
