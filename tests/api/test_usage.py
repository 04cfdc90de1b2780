"""GET /api/v1/me/usage shows a user their own figures beside their limits; a quota
refusal reaches a tool's caller as quota_exceeded in the one error shape."""

import pytest

from apps.accounts.partition import Partition
from apps.quotas import counters
from apps.store.connections import DjangoConnection
from apps.store.core import DocumentStore

from .conftest import error_of

USAGE = "/api/v1/me/usage"
TOOL = "/api/v1/extensions/api-probe/tools/remember/call"


def usage_of(response, app_id):
    assert response.status_code == 200, response.content[:300]
    body = response.json()
    (found,) = [e for e in body["extensions"] if e["app_id"] == app_id]
    return body, found["usage"]


@pytest.mark.django_db
def test_my_usage_counts_my_documents_bytes_and_daily_figures(as_alice, settings):
    settings.IMPERAL_QUOTAS = {"api-probe": {"store.documents": 10, "ai.tokens": 500}}
    store = DocumentStore(DjangoConnection())
    alice = Partition("default", "api-probe", "alice")
    store.create(alice, "user", "notes", {"text": "one"})
    store.create(alice, "user", "notes", {"text": "two"})
    store.create(alice.for_user("bob"), "user", "notes", {"text": "bob's"})
    counters.charge("ai.tokens", alice, 120)

    body, usage = usage_of(as_alice.get(USAGE), "api-probe")

    assert body["user_id"] == "alice" and len(body["day"]) == 10
    assert usage["store.documents"] == {
        "used": 2,
        "counted": "held",
        "limit": 10,
        "limit_per": "",
    }
    assert usage["store.bytes"]["used"] > 0 and usage["store.bytes"]["limit"] is None
    assert usage["ai.tokens"] == {
        "used": 120,
        "counted": "today",
        "limit": 500,
        "limit_per": "day",
    }
    assert usage["egress.calls"]["counted"] == "today"
    assert set(usage) == {
        "store.documents",
        "store.bytes",
        "cache.entries",
        "files.bytes",
        "ai.tokens",
        "egress.calls",
    }


@pytest.mark.django_db
def test_an_outsider_sees_only_their_own_figures(as_alice, as_bob):
    store = DocumentStore(DjangoConnection())
    store.create(Partition("default", "api-probe", "alice"), "user", "n", {"a": 1})
    _, usage = usage_of(as_bob.get(USAGE), "api-probe")
    assert usage["store.documents"]["used"] == 0
    assert as_bob.get(USAGE).json()["user_id"] == "bob"


@pytest.mark.django_db
def test_usage_needs_a_credential():
    from .conftest import Api

    error = error_of(Api().get(USAGE), 401)
    assert error["code"] == "unauthenticated"


@pytest.mark.django_db
def test_a_tool_refused_by_a_quota_answers_507_with_the_figures(as_alice, settings):
    settings.IMPERAL_QUOTAS = {"api-probe": {"store.documents": 1}}
    assert as_alice.post(TOOL, {"params": {"text": "first"}}).status_code == 200

    error = error_of(as_alice.post(TOOL, {"params": {"text": "second"}}), 507)

    assert error["code"] == "quota_exceeded"
    assert error["detail"] == {
        "app_id": "api-probe",
        "kind": "store.documents",
        "limit": 1,
        "usage": 1,
        "requested": 1,
        "window": "",
    }
    alice = Partition("default", "api-probe", "alice")
    assert DocumentStore(DjangoConnection()).count(alice, "notes") == 1


@pytest.mark.django_db
def test_the_schema_describes_my_usage(client):
    schema = client.get("/api/schema/?format=json").json()
    route = schema["paths"]["/api/v1/me/usage"]["get"]
    assert "200" in route["responses"] and "401" in route["responses"]
    tool = schema["paths"]["/api/v1/extensions/{app_id}/tools/{name}/call"]["post"]
    assert "507" in tool["responses"]
