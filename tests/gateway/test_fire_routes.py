"""What an isolated fire's call token lets its worker do at the gateway: fan-out
reads limited to its shard (and, re-run, to users not yet delivered), deliveries
recorded on its ledger, progress kept for its kernel — and nothing wider. The
worker's side, with real workers: tests/runtime/test_fires.py."""

import base64
import json
import time

import pytest

from apps.accounts.partition import Partition
from apps.gateway.views import kernel
from apps.notifications.models import Notification
from apps.runtime.progress import last_report
from apps.scheduler.models import Delivery
from apps.store.connections import DjangoConnection
from apps.store.core import DocumentStore
from apps.store.shards import Shard

from .conftest import FIRE_RUN, call_token, error_of, fire_token

pytestmark = pytest.mark.django_db
APP = "digest"
SUBSCRIBERS = [f"sub{n:02d}" for n in range(24)]
RUN = FIRE_RUN
LIST_USERS = "/v1/internal/store/subscriptions/list_users"
ALL = "/v1/internal/store/subscriptions/all"


@pytest.fixture
def digest(use_extensions):
    use_extensions("tests.scheduler.digest_extension")
    store = DocumentStore(DjangoConnection())
    for uid in SUBSCRIBERS:
        store.create(Partition("default", APP, uid), "user", "subscriptions", {})


def listed(gateway, token, page_size=500, **headers):
    """Return every id list_users pages through, or the refusing response."""
    users, cursor = [], "0"
    while cursor is not None:
        path = f"{LIST_USERS}?cursor={cursor}&limit={page_size}"
        response = gateway.get(path, call=token, **headers)
        if response.status_code != 200:
            return response
        users += response.json()["user_ids"]
        cursor = response.json()["next_cursor"]
    return users


def test_each_shards_token_lists_only_its_shards_users_and_together_all(
    gateway, digest
):
    found = [listed(gateway, fire_token(i, 3)[0], page_size=4) for i in range(3)]
    assert sorted(u for part in found for u in part) == SUBSCRIBERS
    for index, part in enumerate(found):
        assert part and all(Shard(index, 3).holds(u) for u in part)


def test_query_all_with_a_shards_token_returns_only_that_shards_documents(
    gateway, digest
):
    token, _ = fire_token(1, 2)
    response = gateway.get(f"{ALL}?limit=100", call=token)
    users = {doc["user_id"] for doc in response.json()}
    assert users == {u for u in SUBSCRIBERS if Shard(1, 2).holds(u)}


def test_a_resumed_fire_lists_only_the_users_its_slot_was_not_delivered_to(
    gateway, digest
):
    whole = listed(gateway, fire_token(0, 2)[0])
    Delivery.objects.bulk_create([Delivery(run_id=RUN, user_id=u) for u in whole[:3]])
    assert listed(gateway, fire_token(0, 2, resumed=True)[0], page_size=2) == whole[3:]
    # A first attempt does not look at the ledger (as in-process).
    assert listed(gateway, fire_token(0, 2)[0]) == whole


@pytest.mark.parametrize(
    "where",
    [{"x_imperal_shard": "1/1"}, {"query": "shard=1/1"}, {"query": "shard=2/2"}],
)
def test_a_worker_naming_a_wider_or_other_shard_is_refused_and_recorded(
    gateway, digest, threats, where
):
    token, _ = fire_token(0, 2)
    before = threats.snapshot("gateway_shard_mismatch", APP)
    query = f"&{where.pop('query')}" if "query" in where else ""
    for path in (f"{LIST_USERS}?cursor=0{query}", f"{ALL}?limit=10{query}"):
        response = gateway.get(path, call=token, **where)
        assert response.status_code == 403
        assert "is not this credential's shard 1/2" in error_of(response)["message"]
    attempts, counted = threats.snapshot("gateway_shard_mismatch", APP)
    assert (attempts - before[0], counted - before[1]) == (2, 2)


def test_naming_its_own_shard_is_allowed(gateway, digest):
    token, _ = fire_token(1, 2)
    response = gateway.get(f"{LIST_USERS}?cursor=0&shard=2/2", call=token)
    assert response.status_code == 200
    assert all(Shard(1, 2).holds(u) for u in response.json()["user_ids"])


def test_an_unsharded_fire_lists_every_user_in_the_stores_order(gateway, digest):
    token, _ = fire_token(0, 1)
    assert listed(gateway, token, page_size=5) == SUBSCRIBERS
    assert listed(gateway, token, x_imperal_shard="1/1") == SUBSCRIBERS


def test_a_token_whose_shard_claim_was_edited_is_refused(gateway, digest):
    token, _ = fire_token(0, 2)
    payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["imperal_kernel"]["fan_out"]["shard_count"] = 1
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=")
    response = gateway.get(
        f"{LIST_USERS}?cursor=0", call=f"{forged.decode()}.{signature}"
    )
    assert response.status_code == 401
    assert "signature" in error_of(response)["message"]


def held(user_id, message="digest", **kwargs):
    return {"user_id": user_id, "message": message, "extension_id": APP, **kwargs}


def mine(count, index=0):
    return [u for u in SUBSCRIBERS if Shard(index, 2).holds(u)][:count]


def test_deliveries_are_recorded_with_their_held_notifications(gateway, digest):
    users = mine(3)
    body = {"users": users, "notifications": [held(users[0]), held(users[2], "x")]}
    response = gateway.post("/v1/internal/deliveries", body, call=fire_token()[0])
    assert response.status_code == 200, response.content
    assert response.json() == {"recorded": 3}
    delivered = Delivery.objects.filter(run_id=RUN).values_list("user_id", flat=True)
    assert sorted(delivered) == sorted(users)
    sent = Notification.objects.filter(app_id=APP).values_list("user_id", "message")
    assert sorted(sent) == sorted([(users[0], "digest"), (users[2], "x")])


def nothing_stored():
    return not Delivery.objects.exists() and not Notification.objects.exists()


def test_a_delivery_outside_the_tokens_shard_is_refused_recorded_and_stores_nothing(
    gateway, digest, threats
):
    before = threats.snapshot("gateway_shard_mismatch", APP)
    body = {"users": [*mine(2), mine(1, index=1)[0]], "notifications": []}
    response = gateway.post("/v1/internal/deliveries", body, call=fire_token()[0])
    assert response.status_code == 403
    assert "is not in this fire's shard 1/2" in error_of(response)["message"]
    assert threats.snapshot("gateway_shard_mismatch", APP)[0] == before[0] + 1
    assert nothing_stored()


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"users": []}, "users must be a list of 1-1000"),
        ({"users": "sub01"}, "users must be a list"),
        ({"users": ["__system__"]}, "platform identity"),
        ({"users": ["a b"]}, "a delivered user"),
        ({"users": ["U"], "notifications": [held("other")]}, "notifications[0]"),
        ({"users": ["U"], "notifications": [held("U", channel="email")]}, "email"),
        ({"users": ["U"], "notifications": [held("U", message="")]}, "message"),
    ],
)
def test_a_bad_delivery_report_is_400_naming_the_rule_and_stores_nothing(
    gateway, digest, body, words
):
    user = mine(1)[0]
    text = json.dumps(body).replace('"U"', json.dumps(user))
    response = gateway.post(
        "/v1/internal/deliveries", json.loads(text), call=fire_token()[0]
    )
    assert response.status_code == 400, response.content
    assert words in error_of(response)["message"]
    assert nothing_stored()


def test_only_a_fires_call_token_reports_deliveries(gateway, digest, system_token):
    body = {"users": mine(1)}
    tool_token, _ = fire_token(user_id="sub01", kind="tool")
    assert (
        gateway.post("/v1/internal/deliveries", body, call=tool_token).status_code
        == 403
    )
    sdk_token = call_token(app_id=APP, user_id="__system__")
    assert (
        gateway.post("/v1/internal/deliveries", body, call=sdk_token).status_code == 403
    )
    assert (
        gateway.post("/v1/internal/deliveries", body, token=system_token).status_code
        == 401
    )
    assert nothing_stored()


def test_a_held_notification_is_checked_as_notify_would_and_nothing_is_stored(
    gateway, digest
):
    token, user = fire_token()[0], mine(1)[0]
    hold = "/v1/internal/deliveries/hold"
    assert gateway.post(hold, held(user), call=token).json() == {"held": True}
    too_long = gateway.post(hold, held(user, "x" * 10_001), call=token)
    assert too_long.status_code == 413
    other_app = gateway.post(hold, held(user, extension_id="probe"), call=token)
    assert other_app.status_code == 403
    assert nothing_stored()


def test_progress_is_kept_for_the_call_its_token_names(gateway, digest):
    token, call_id = fire_token()
    response = gateway.post(
        "/v1/internal/progress",
        {"percent": 40, "message": "a\nb" + "m" * 900},
        call=token,
    )
    assert response.status_code == 200, response.content
    _, percent, message = last_report(call_id)
    assert percent == 40
    assert message.startswith("a\\nbmmm") and message.endswith("…(904 chars)")
    assert len(message) == 500


@pytest.mark.parametrize(
    "body", [{"percent": "40"}, {"percent": True}, {}, {"percent": 1, "message": 5}]
)
def test_a_bad_progress_report_is_400_and_not_kept(gateway, digest, body):
    token, call_id = fire_token()
    response = gateway.post("/v1/internal/progress", body, call=token)
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid_argument"
    assert last_report(call_id) is None


@pytest.fixture
def progress_clock(monkeypatch):
    """The progress route's clock, standing still in the middle of a second until
    the test moves it: a burst on the real clock that ran across a second's edge
    saw two windows, and no 429."""
    now = [int(time.time()) + 0.5]
    monkeypatch.setattr(kernel.Progress, "timer", lambda self: now[0])
    return now


def test_progress_past_its_rate_is_429_and_the_last_kept_report_stays(
    gateway, digest, progress_clock
):
    token, call_id = fire_token()
    rate = kernel.Progress.rate
    responses = [
        gateway.post("/v1/internal/progress", {"percent": n}, call=token)
        for n in range(rate + 2)
    ]
    assert [r.status_code for r in responses] == [200] * rate + [429, 429]
    assert responses[rate]["Retry-After"] == "1"
    assert error_of(responses[rate])["code"] == "throttled"
    assert last_report(call_id)[1] == rate - 1
    # The next second keeps reports again.
    progress_clock[0] += 1
    response = gateway.post("/v1/internal/progress", {"percent": 50}, call=token)
    assert response.status_code == 200
    assert last_report(call_id)[1] == 50


def test_progress_needs_a_call_token_the_kernel_minted(gateway, digest, system_token):
    body = {"percent": 1}
    sdk_token = call_token(app_id=APP, user_id="__system__")
    assert (
        gateway.post("/v1/internal/progress", body, call=sdk_token).status_code == 403
    )
    assert (
        gateway.post("/v1/internal/progress", body, token=system_token).status_code
        == 401
    )
