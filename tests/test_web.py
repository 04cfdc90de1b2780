"""The web process answers: admin login, health, metrics."""

import pytest
from prometheus_client.parser import text_string_to_metric_families

from apps.accounts.identity import PlatformUserContext
from apps.accounts.models import SecurityEvent
from apps.extensions.context import build_context

pytestmark = pytest.mark.django_db
THREATS = "imperal_store_threat_total"


def test_admin_login_answers(client):
    assert client.get("/admin/login/").status_code == 200


def test_healthz_checks_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["checks"]["database"]) == ("ok", "ok")


def served_threats(client, kind, app_id):
    """Return the threat counter's sample for (kind, app_id) at /metrics, 0 if absent."""
    response = client.get("/metrics")
    assert response.status_code == 200
    wanted = {"kind": kind, "app_id": app_id}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            if sample.name == THREATS and sample.labels == wanted:
                return sample.value
    return 0.0


def test_metrics_counts_a_refused_cross_partition_attempt(client, use_extensions):
    kind, app_id = "as_user_from_user_context", "web-metrics-probe"
    loaded = use_extensions("tests.fixtures.extensions.metrics_probe").get(app_id)
    user = PlatformUserContext(
        imperal_id="alice", email="", tenant_id="default", role="user"
    )
    ctx = build_context(loaded.ext, user)
    before = served_threats(client, kind, app_id)
    with pytest.raises(RuntimeError, match=r"ctx\.as_user\(\) requires system context"):
        ctx.as_user("bob")
    assert served_threats(client, kind, app_id) == before + 1
    other_kind = served_threats(client, "query_all_from_user_context", app_id)
    assert other_kind == 0.0
    event = SecurityEvent.objects.get()
    assert (event.kind, event.app_id, event.user_id, event.detail) == (
        kind,
        app_id,
        "alice",
        {"target": "bob"},
    )
