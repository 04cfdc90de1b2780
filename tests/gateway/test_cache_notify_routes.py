"""The extcache and notify routes, against what ctx.cache and the notify core hold."""

import json

from asgiref.sync import async_to_sync

from apps.accounts.identity import PlatformUserContext
from apps.extensions.context import build_context
from apps.notifications.models import Notification
from tests.fixtures.extensions.cache_probe import ResourceSummary

from .conftest import APP, OTHER_APP, cache_state, call_token, error_of, extcache

SUMMARY = ResourceSummary(total=3, active=2, last_id="doc_1")


def in_process_cache(registry, user_id):
    user = PlatformUserContext(
        imperal_id=user_id, email="", tenant_id="default", role="user"
    )
    return build_context(registry.get(APP).ext, user).cache


def put_body(value, model="resource_summary", ttl=60):
    envelope = {
        "model": model,
        "version": 1,
        "data": value.model_dump(mode="json"),
        "cached_at": "2026-01-01T00:00:00+00:00",
    }
    return json.dumps({"envelope": envelope, "ttl_seconds": ttl}).encode()


def test_an_entry_put_over_the_wire_is_read_by_ctx_cache(
    gateway, alice_token, registry, cache_prefix
):
    response = gateway.put(
        extcache("alice", key="summary"), put_body(SUMMARY), token=alice_token
    )
    assert response.status_code == 204
    cache = in_process_cache(registry, "alice")
    assert async_to_sync(cache.get)("summary", ResourceSummary) == SUMMARY
    assert (
        async_to_sync(in_process_cache(registry, "bob").get)("summary", ResourceSummary)
        is None
    )


def test_an_entry_set_by_ctx_cache_is_got_and_deleted_over_the_wire(
    gateway, registry, cache_prefix
):
    cache = in_process_cache(registry, "alice")
    async_to_sync(cache.set)("summary", SUMMARY, ttl_seconds=60)
    raw = call_token(user_id="alice")
    response = gateway.get(extcache("alice", key="summary"), call=raw)
    assert response.status_code == 200
    envelope = json.loads(response.content)
    assert (envelope["model"], envelope["version"]) == ("resource_summary", 1)
    assert envelope["data"] == SUMMARY.model_dump()
    assert gateway.delete(extcache("alice", key="summary"), call=raw).status_code == 204
    assert cache_state(cache_prefix) == {}
    missing = gateway.get(extcache("alice", key="summary"), call=raw)
    assert missing.status_code == 404
    assert error_of(missing)["code"] == "not_found"


def test_an_extension_the_registry_does_not_load_has_no_cache(
    gateway, issue, use_extensions, cache_prefix
):
    raw = issue(user_id="alice")
    use_extensions("tests.fixtures.extensions.probe")  # cache-probe is gone
    response = gateway.get(extcache("alice"), token=raw)
    assert response.status_code == 404
    assert "unknown extension 'cache-probe'" in error_of(response)["message"]


def test_notify_with_a_bearer_token_stores_the_notification(gateway, issue, alice):
    raw = issue()
    response = gateway.post(
        "/v1/internal/notify",
        {"user_id": "alice", "message": "hi", "extension_id": APP, "priority": "high"},
        authorization=f"Bearer {raw}",
    )
    assert response.status_code == 201
    stored = Notification.objects.get()
    assert response.json() == {
        "id": stored.pk,
        "channel": "in_app",
        "status": stored.status,
    }
    assert (stored.app_id, stored.user_id, stored.message, stored.priority) == (
        APP,
        "alice",
        "hi",
        "high",
    )


def test_notify_bad_input_is_the_cores_400_and_stores_nothing(gateway, issue):
    raw = issue()
    for body, fragment in (
        ({"user_id": "alice", "message": ""}, "message must be a non-empty string"),
        ({"user_id": "alice", "message": "m", "priority": "loud"}, "priority must be"),
        ({"user_id": "alice", "message": "x" * 10_001}, "MESSAGE_MAX_CHARS"),
    ):
        response = gateway.post(
            "/v1/internal/notify", body, authorization=f"Bearer {raw}"
        )
        assert response.status_code in (400, 413), response.content
        assert fragment in error_of(response)["message"]
    assert not Notification.objects.exists()


def test_notify_as_another_extension_is_403(gateway, issue, threats):
    raw = issue()
    before = threats.snapshot("gateway_extension_mismatch")
    response = gateway.post(
        "/v1/internal/notify",
        {"user_id": "alice", "message": "m", "extension_id": OTHER_APP},
        authorization=f"Bearer {raw}",
    )
    assert response.status_code == 403
    assert threats.snapshot("gateway_extension_mismatch") == (
        before[0] + 1,
        before[1] + 1,
    )
    assert not Notification.objects.exists()
