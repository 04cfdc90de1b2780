"""``POST /v1/internal/http`` (an isolated worker's ctx.http): the body is checked
before anything is sent, only a call token is taken, a refusal is the one error
shape naming the rule and host. The worker's side: tests/runtime/test_http.py."""

import uuid

import pytest
from imperal_sdk import Extension

from apps.accounts.models import SecurityEvent
from apps.egress.limits import permits
from apps.egress.models import OutboundCall
from apps.egress.records import recorder
from tests.egress.upstream import Upstream

from .conftest import APP, call_token

pytestmark = pytest.mark.django_db(transaction=True)
ROUTE = "/v1/internal/http"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"method": "BREW", "url": "http://example.test/"}, "method"),
        ({"url": "http://example.test/"}, "method"),
        ({"method": "GET"}, "url"),
        ({"method": "GET", "url": ""}, "url"),
        ({"method": "GET", "url": "http://example.test/", "timeout": 0}, "timeout"),
        ({"method": "GET", "url": "http://example.test/", "timeout": 181}, "timeout"),
        ({"method": "GET", "url": "http://example.test/", "timeout": "5"}, "timeout"),
        ({"method": "GET", "url": "http://example.test/", "headers": [1]}, "headers"),
        ({"method": "POST", "url": "http://example.test/", "content": "@@"}, "content"),
        (
            {"method": "GET", "url": "http://example.test/", "follow_redirects": 1},
            "follow_redirects",
        ),
    ],
)
def test_a_bad_body_is_400_naming_the_field_and_nothing_is_sent(
    gateway, registry, body, field
):
    response = gateway.post(ROUTE, body, call=call_token())
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid_params"
    assert error["message"].startswith(f"{field}:"), error
    recorder.flush()
    assert not OutboundCall.objects.filter(app_id=APP).exists()


def test_only_a_call_token_is_taken(gateway, registry, alice_token):
    body = {"method": "GET", "url": "http://example.test/"}
    assert gateway.post(ROUTE, body).status_code == 401
    assert gateway.post(ROUTE, body, token=alice_token).status_code == 401


def test_a_refused_destination_is_403_by_rule_and_host_as_the_tokens_user(
    gateway, registry
):
    body = {"method": "GET", "url": "http://169.254.169.254/latest/meta-data/"}
    response = gateway.post(ROUTE, body, call=call_token(user_id="alice"))
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "egress_refused"
    assert error["detail"] == {"rule": "link-local", "host": "169.254.169.254"}
    assert "link-local" in error["message"] and "169.254.169.254" in error["message"]
    event = SecurityEvent.objects.get(kind="egress_refused", app_id=APP)
    assert event.user_id == "alice"
    assert recorder.flush()
    [row] = OutboundCall.objects.filter(app_id=APP)
    assert (row.user_id, row.outcome, row.rule) == ("alice", "refused", "link-local")


def test_another_users_name_is_refused(gateway, registry):
    body = {"method": "GET", "url": "http://169.254.169.254/"}
    response = gateway.post(
        ROUTE, body, call=call_token(user_id="alice"), x_acting_user="bob"
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    recorder.flush()
    assert not OutboundCall.objects.filter(app_id=APP).exists()


@pytest.fixture
def upstream(settings):
    """A loopback server APP may reach."""
    server = Upstream()
    settings.IMPERAL_EGRESS_ALLOW = {APP: [f"127.0.0.1:{server.port}"]}
    yield server
    server.stop()


def test_follow_redirects_false_answers_the_redirect_itself(
    gateway, registry, upstream
):
    body = {
        "method": "GET",
        "url": upstream.url("/redirect?to=/json"),
        "follow_redirects": False,
    }
    response = gateway.post(ROUTE, body, call=call_token())
    assert response.status_code == 200, response.content
    answer = response.json()
    assert answer["status_code"] == 302
    assert answer["headers"]["location"] == "/json"
    assert [r["path"] for r in upstream.requests] == ["/redirect?to=/json"]
    followed = gateway.post(
        ROUTE, {**body, "follow_redirects": True}, call=call_token()
    )
    assert followed.json()["status_code"] == 200


def test_a_timed_out_call_is_504_naming_httpxs_error(gateway, registry, upstream):
    body = {"method": "GET", "url": upstream.url("/slow?s=1"), "timeout": 0.2}
    response = gateway.post(ROUTE, body, call=call_token())
    assert response.status_code == 504
    error = response.json()["error"]
    assert error["code"] == "timeout"
    assert error["detail"]["exception"] == "ReadTimeout"
    assert error["detail"]["host"] == "127.0.0.1"
    assert set(error["detail"]) == {"error", "host", "exception", "reason"}


def test_a_rate_limited_call_says_when_to_retry(gateway, registry, upstream, settings):
    app_id = f"rated-{uuid.uuid4().hex[:10]}"  # a rate window of its own
    registry.add("tests.gateway", Extension(app_id, description="rated"))
    settings.IMPERAL_EGRESS_ALLOW = {app_id: [f"127.0.0.1:{upstream.port}"]}
    settings.IMPERAL_EGRESS_RATE = "1/min"
    permits.forget()
    body = {"method": "GET", "url": upstream.url("/json")}
    token = call_token(app_id=app_id)
    assert gateway.post(ROUTE, body, call=token).status_code == 200
    response = gateway.post(ROUTE, body, call=token)
    assert response.status_code == 429
    error = response.json()["error"]
    assert error["code"] == "rate_limited"
    assert 0 < error["detail"]["retry_after"] <= 60
    assert response["Retry-After"] == str(max(1, round(error["detail"]["retry_after"])))
    assert len(upstream.requests) == 1
