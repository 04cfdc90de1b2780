"""I-STORE-THREAT-COUNTER-1: a non-system list_users/query_all raises RuntimeError, writes
a SecurityEvent and counts on the Prometheus counter served at /metrics."""

import pytest
from prometheus_client import REGISTRY

from apps.extensions.models import SecurityEvent

pytestmark = pytest.mark.django_db


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
