"""What an outsider can make the platform keep through webhooks is bounded: no row for
a webhook nobody declared, a rate per client address answered 429 before anything
is looked up or recorded."""

import time
import uuid

import pytest
from django.test import Client

from apps.api import throttling
from apps.extensions.models import WebhookCall
from apps.store.models import Document

pytestmark = pytest.mark.django_db

APP = "webhook-probe"
BASE = f"/v1/ext/{APP}/webhook"
LIMIT = 5


@pytest.fixture
def probe(use_extensions):
    return use_extensions("tests.fixtures.extensions.webhook_probe").get(APP)


@pytest.fixture
def client():
    return Client()


@pytest.fixture
def unlimited(settings):
    settings.IMPERAL_API_RATES = {**settings.IMPERAL_API_RATES, "webhook": ""}


@pytest.fixture
def limited(settings, monkeypatch):
    """LIMIT webhook requests per minute and client, counted under a prefix of this
    test's own (the test client's address is every test's)."""
    settings.IMPERAL_API_RATES = {
        **settings.IMPERAL_API_RATES,
        "webhook": f"{LIMIT}/min",
    }
    monkeypatch.setattr(
        throttling.ClientAddressThrottle, "key_prefix", f"t-{uuid.uuid4().hex}"
    )
    # The window is a minute: a test that ran across a minute's edge saw a fresh
    # window and no 429. Its clock stands still in the middle of one.
    still = (time.time() // 60) * 60 + 30
    monkeypatch.setattr(throttling.ClientAddressThrottle, "timer", lambda self: still)
    throttling.reset_counters()
    yield
    throttling.reset_counters()


def test_a_thousand_requests_for_undeclared_webhooks_write_no_row(
    probe, client, unlimited
):
    paths = [f"{BASE}/nope-{n}" for n in range(500)]
    paths += [f"/v1/ext/ghost-{n}/webhook/events" for n in range(500)]
    statuses = {
        client.post(path, b"{}", "application/json").status_code for path in paths
    }

    assert statuses == {404}
    assert not WebhookCall.objects.exists()


def test_a_declared_webhook_is_recorded_under_its_declared_path(probe, client):
    client.post(f"{BASE}//whoami/", b"x", "text/plain")
    call = WebhookCall.objects.get()
    assert (call.app_id, call.path, call.status_code) == (APP, "/whoami", 200)


def test_past_the_rate_a_client_gets_429_and_nothing_is_recorded(
    probe, client, limited
):
    answers = [
        client.post(f"{BASE}/whoami", b"x", "text/plain") for _ in range(LIMIT + 3)
    ]

    assert [a.status_code for a in answers] == [200] * LIMIT + [429] * 3
    refused = answers[-1]
    error = refused.json()["error"]
    assert set(error) == {"code", "message", "detail"}
    assert error["code"] == "throttled"
    assert (
        f"the limit is {LIMIT}/min (IMPERAL_API_RATES['webhook'])" in error["message"]
    )
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert refused["Content-Security-Policy"] == "sandbox"
    assert WebhookCall.objects.count() == LIMIT
    assert Document.objects.filter(collection="inbox").count() == LIMIT


def test_the_rate_counts_unknown_webhooks_too(probe, client, limited):
    statuses = [
        client.post(f"{BASE}/guess-{n}", b"{}", "application/json").status_code
        for n in range(LIMIT + 1)
    ]
    assert statuses == [404] * LIMIT + [429]
    assert client.post(f"{BASE}/whoami", b"x", "text/plain").status_code == 429
    assert not WebhookCall.objects.exists()


def test_each_client_address_has_its_own_rate(probe, client, limited):
    def status(address, **headers):
        return client.post(
            f"{BASE}/whoami", b"x", "text/plain", REMOTE_ADDR=address, **headers
        ).status_code

    assert [status("192.0.2.1") for _ in range(LIMIT + 1)][-1] == 429
    assert status("192.0.2.2") == 200
    # A forged X-Forwarded-For is no new client: the connection's address counts.
    assert status("192.0.2.1", HTTP_X_FORWARDED_FOR="198.51.100.9") == 429


def test_an_ipv6_client_is_counted_per_64_block(probe, client, limited):
    for n in range(LIMIT):
        answer = client.post(
            f"{BASE}/whoami", b"x", "text/plain", REMOTE_ADDR=f"2001:db8:1:2::{n + 1}"
        )
        assert answer.status_code == 200
    same_block = client.post(
        f"{BASE}/whoami", b"x", "text/plain", REMOTE_ADDR="2001:db8:1:2:ffff::1"
    )
    other_block = client.post(
        f"{BASE}/whoami", b"x", "text/plain", REMOTE_ADDR="2001:db8:1:3::1"
    )
    assert (same_block.status_code, other_block.status_code) == (429, 200)


def test_behind_a_named_proxy_the_address_it_saw_counts(
    probe, client, limited, settings
):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}

    def status(client_address):
        return client.post(
            f"{BASE}/whoami",
            b"x",
            "text/plain",
            REMOTE_ADDR="10.0.0.1",  # the proxy
            HTTP_X_FORWARDED_FOR=f"203.0.113.50, {client_address}",
        ).status_code

    assert [status("192.0.2.10") for _ in range(LIMIT + 1)][-1] == 429
    assert status("192.0.2.11") == 200


def test_a_request_without_a_client_address_is_counted_not_crashed(
    probe, client, limited
):
    statuses = [
        client.post(f"{BASE}/whoami", b"x", "text/plain", REMOTE_ADDR=None).status_code
        for _ in range(LIMIT + 1)
    ]
    assert statuses == [200] * LIMIT + [429]
