"""The connection pool ctx.store and ctx.db share: lending across event loops,
waiting with a timeout, and a forked child that leaves the parent's sockets alone."""

import asyncio
import os
import threading

import psycopg
import pytest
from django.db import connections

from apps.common.asyncpool import PoolTimeout, SharedAsyncPool

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def make_pool():
    params = connections["default"].get_connection_params()
    for django_only in ("context", "cursor_factory", "prepare_threshold"):
        params.pop(django_only, None)
    pools = []

    def make(max_size, timeout=None):
        async def connect():
            return await psycopg.AsyncConnection.connect(autocommit=True, **params)

        pools.append(SharedAsyncPool(connect, max_size, timeout, name="test pool"))
        return pools[-1]

    yield make
    for pool in pools:
        pool.close()


async def _backend_pid(connection):
    cursor = await connection.execute("SELECT pg_backend_pid()")
    return (await cursor.fetchone())[0]


def test_a_connection_released_on_one_loop_serves_a_waiter_on_another(make_pool):
    pool = make_pool(max_size=1)
    first = asyncio.run(pool.acquire())
    first_pid = asyncio.run(_backend_pid(first))
    seen = []

    def borrower():
        async def borrow():
            connection = await pool.acquire()
            seen.append(await _backend_pid(connection))
            pool.release(connection)

        asyncio.run(borrow())

    thread = threading.Thread(target=borrower)
    thread.start()
    thread.join(0.3)
    assert thread.is_alive(), "the borrower must wait while the only connection is lent"
    pool.release(first)
    thread.join(10)
    assert not thread.is_alive()
    assert seen == [first_pid]  # the same server session, reused, not a new one


def test_it_raises_pool_timeout_and_the_next_borrower_still_gets_served(make_pool):
    pool = make_pool(max_size=1, timeout=0.2)

    async def scenario():
        held = await pool.acquire()
        with pytest.raises(PoolTimeout, match="test pool became free within 0.2 s"):
            await pool.acquire()
        waiter = asyncio.ensure_future(pool.acquire())
        await asyncio.sleep(0.05)
        pool.release(held)
        again = await asyncio.wait_for(waiter, 5)
        assert again is held
        pool.release(again)

    asyncio.run(scenario())


def test_a_broken_or_mid_transaction_connection_is_not_lent_again(make_pool):
    pool = make_pool(max_size=2)

    async def scenario():
        connection = await pool.acquire()
        await connection.execute("BEGIN")
        pool.release(connection)
        assert connection.closed
        fresh = await pool.acquire()
        assert fresh is not connection
        assert await _backend_pid(fresh)
        pool.release(fresh)

    asyncio.run(scenario())


def test_a_forked_child_opens_its_own_connections_and_spares_the_parents(make_pool):
    pool = make_pool(max_size=1)
    connection = asyncio.run(pool.acquire())
    parent_session = asyncio.run(_backend_pid(connection))
    pool.release(connection)

    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            borrowed = asyncio.run(pool.acquire())
            if borrowed is not connection:
                code = 0 if asyncio.run(_backend_pid(borrowed)) != parent_session else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    again = asyncio.run(pool.acquire())
    assert again is connection
    assert asyncio.run(_backend_pid(again)) == parent_session  # still alive
    pool.release(again)
