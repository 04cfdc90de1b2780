"""No driver exception reaches an extension: database failures arrive as store errors."""

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
