"""No driver exception reaches an extension: database failures arrive as store errors."""

import asyncio

import psycopg
import pytest
from asgiref.sync import async_to_sync
from django.db import DatabaseError, connection
from imperal_sdk.store.exceptions import StoreError
from imperal_sdk.store.exceptions import StoreUnavailable as SdkStoreUnavailable

from apps.store import pool
from apps.store.errors import StoreUnavailable

from .conftest import user_ctx


def _is_driver_error(exc):
    return isinstance(exc, DatabaseError | psycopg.Error)


@pytest.mark.django_db
def test_a_failing_statement_on_the_callers_connection_is_a_store_error():
    store = user_ctx("notes", "alice").store
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE store_audit")  # rolled back with the test
    with pytest.raises(StoreError) as caught:
        async_to_sync(store.create)("notes", {"x": 1})
    assert not _is_driver_error(caught.value)
    assert _is_driver_error(caught.value.__cause__)
    assert "store" in str(caught.value)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_unreachable_database_is_store_unavailable_on_the_async_pool(settings):
    settings.IMPERAL_STORE_ASYNC_POOL = 2
    pool.close_all()  # the next call must open a connection
    store = user_ctx("notes", "alice").store
    real_port = connection.settings_dict["PORT"]
    connection.settings_dict["PORT"] = "1"  # nothing listens there
    try:
        with pytest.raises(StoreUnavailable) as caught:
            async_to_sync(store.get)("notes", "x")
    finally:
        connection.settings_dict["PORT"] = real_port
    assert isinstance(caught.value, SdkStoreUnavailable)
    assert isinstance(caught.value.__cause__, psycopg.OperationalError)
    assert async_to_sync(store.get)("notes", "x") is None  # and it recovers
    pool.close_all()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_call_that_finds_every_pooled_connection_busy_is_store_unavailable(settings):
    settings.IMPERAL_STORE_ASYNC_POOL = 1
    settings.IMPERAL_STORE_POOL_TIMEOUT = 0.3
    store = user_ctx("notes", "alice").store
    async_to_sync(store.create)("notes", {"doc_id": "a", "n": 1})
    params = {**connection.get_connection_params(), "autocommit": False}
    params.pop("cursor_factory", None)

    async def while_the_only_connection_waits_on_a_lock():
        stuck = asyncio.ensure_future(store.get("notes", "a"))
        await asyncio.sleep(0.2)  # it now holds the pool's one connection
        with pytest.raises(StoreUnavailable, match="became free within 0.3 s"):
            await store.count("notes")
        locker.rollback()  # lets the first call finish
        return await asyncio.wait_for(stuck, 10)

    with psycopg.connect(**params) as locker:
        locker.execute("LOCK TABLE store_document IN ACCESS EXCLUSIVE MODE")
        document = async_to_sync(while_the_only_connection_waits_on_a_lock)()
    assert document.data["n"] == 1
    assert async_to_sync(store.count)("notes") == 1  # and the pool serves again
    pool.close_all()
