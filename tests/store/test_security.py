"""I-STORE-THREAT-COUNTER-1: a non-system list_users/query_all raises RuntimeError, writes
a SecurityEvent and counts on the Prometheus counter served at /metrics."""

import pytest
from prometheus_client import REGISTRY

from apps.accounts.models import SecurityEvent

from .conftest import STORE_APPS_ENTRY

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def loaded(use_extensions):
    """notes and crm in the registry: a refusal is counted under a loaded app id."""
    return use_extensions(STORE_APPS_ENTRY)


def threats(kind, app_id="notes"):
    labels = {"kind": kind, "app_id": app_id}
    return REGISTRY.get_sample_value("imperal_store_threat_total", labels) or 0


@pytest.mark.parametrize("operation", ["list_users", "query_all"])
def test_a_user_context_fan_out_is_refused_recorded_and_counted(
    store_of, client, operation
):
    kind = f"{operation}_from_user_context"
    before = threats(kind)
    with pytest.raises(
        RuntimeError, match=rf"ctx.store.{operation}\(\) requires system context"
    ):
        getattr(store_of("notes", "mallory"), operation)("contacts")
    event = SecurityEvent.objects.get()
    assert (event.kind, event.user_id, event.app_id, event.tenant_id) == (
        kind,
        "mallory",
        "notes",
        "default",
    )
    assert event.detail == {"collection": "contacts"}
    assert threats(kind) == before + 1
    metrics = client.get("/metrics").content.decode()
    assert (
        f'imperal_store_threat_total{{app_id="notes",kind="{kind}"}} {float(before + 1)}'
        in metrics
    )


def test_the_system_context_fans_out_without_an_incident(system_store):
    system = system_store("notes")
    assert system.list_users("contacts") == []
    assert system.query_all("contacts") == []
    assert not SecurityEvent.objects.exists()


def test_a_scoped_context_is_a_user_context_for_fan_out(system_store):
    from .conftest import SyncStore

    scoped = SyncStore(system_store("notes").ctx.as_user("u1"))
    with pytest.raises(RuntimeError):
        scoped.list_users("contacts")
    assert SecurityEvent.objects.get().user_id == "u1"


def test_store_for_user_from_a_user_context_is_refused_recorded_and_counted():
    from asgiref.sync import async_to_sync

    from .conftest import user_ctx

    kind = "store_for_user_from_user_context"
    before = threats(kind)
    mallory = user_ctx("notes", "mallory")
    with pytest.raises(RuntimeError, match=r"for_user\(\) requires system context"):
        mallory.store.for_user("alice")
    event = SecurityEvent.objects.get()
    assert (event.kind, event.user_id, event.detail) == (
        kind,
        "mallory",
        {"target": "alice"},
    )
    assert threats(kind) == before + 1
    assert async_to_sync(mallory.store.count)("contacts") == 0


def test_store_for_user_from_the_system_context_is_that_users_store():
    from asgiref.sync import async_to_sync

    from .conftest import system_ctx, user_ctx

    alices = system_ctx("notes").store.for_user("alice")
    async_to_sync(alices.create)("contacts", {"doc_id": "c1", "name": "Bob"})
    document = async_to_sync(user_ctx("notes", "alice").store.get)("contacts", "c1")
    assert document.data["name"] == "Bob"
    assert async_to_sync(user_ctx("notes", "bob").store.count)("contacts") == 0
    assert not SecurityEvent.objects.exists()
