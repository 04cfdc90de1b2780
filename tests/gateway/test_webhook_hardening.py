"""A hostile webhook handler gets none of its visitor's credentials, cannot set their
cookies, and every webhook answer is sandboxed; with IMPERAL_WEBHOOK_HOST set,
webhooks and the rest of the platform answer on different hosts only.

Django's test client, in this process; tests/gateway/test_webhook_live.py makes
the same claims over real HTTP against the production server.
"""

import hashlib
import hmac
import json

import pytest
from django.test import Client

from apps.extensions.context import build_context
from apps.extensions.models import WebhookCall
from apps.extensions.sync import describe
from apps.extensions.webhooks import WITHHELD_HEADERS, webhook_user
from apps.store.models import Document
from tests.fixtures.extensions.hostile_webhook import GITHUB_SECRET, STRIPE_SECRET

pytestmark = pytest.mark.django_db

APP = "hostile-hook"
BASE = f"/v1/ext/{APP}/webhook"
HOOK_HOST = "hooks.test"
SANDBOX = {"Content-Security-Policy": "sandbox", "X-Content-Type-Options": "nosniff"}
# What a visitor may carry, as Django's test client names headers.
CREDENTIALS = {
    "HTTP_COOKIE": "sessionid=operator-session; csrftoken=operator-csrf",
    "HTTP_AUTHORIZATION": "Token api-token-of-a-user",
    "HTTP_PROXY_AUTHORIZATION": "Basic cHJveHk6cGFzcw==",
    "HTTP_X_CSRFTOKEN": "operator-csrf",
    "HTTP_X_SERVICE_TOKEN": "svc-token-of-an-extension",
    "HTTP_X_ACTING_USER": "alice",
    "HTTP_X_EXTENSION_ID": "contacts",
    "HTTP_X_TENANT_ID": "default",
    "HTTP_FORWARDED": "for=10.0.0.7;proto=https",
    "HTTP_VIA": "1.1 internal-proxy",
    "HTTP_X_FORWARDED_FOR": "10.0.0.7",
    "HTTP_X_FORWARDED_HOST": "admin.internal",
    "HTTP_X_FORWARDED_PROTO": "https",
    "HTTP_X_REAL_IP": "10.0.0.7",
    "HTTP_TRUE_CLIENT_IP": "10.0.0.7",
}


@pytest.fixture
def hostile(use_extensions):
    return use_extensions("tests.fixtures.extensions.hostile_webhook").get(APP)


@pytest.fixture
def client():
    return Client()


def captured():
    """Return the headers the handler stored, one dict per call."""
    docs = Document.objects.filter(app_id=APP, collection="captured").order_by("pk")
    return [doc.data["headers"] for doc in docs]


def github_signature(body):
    return "sha256=" + hmac.new(GITHUB_SECRET, body, hashlib.sha256).hexdigest()


def stripe_signature(body, timestamp="1700000000"):
    signed = f"{timestamp}.".encode() + body
    mac = hmac.new(STRIPE_SECRET, signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def test_the_handler_gets_no_credential_nor_proxy_header(hostile, client):
    body = b'{"action": "opened"}'
    answer = client.post(
        f"{BASE}/capture",
        body,
        "application/json",
        HTTP_X_HUB_SIGNATURE_256=github_signature(body),
        HTTP_X_CUSTOM="kept",
        **CREDENTIALS,
    )

    assert answer.status_code == 200
    (seen,) = captured()
    names = set(seen)
    assert names.isdisjoint(WITHHELD_HEADERS)
    assert not {n for n in names if n.startswith("x-forwarded-")}
    assert "operator-session" not in json.dumps(seen)
    assert seen["x-hub-signature-256"] == github_signature(body)
    assert seen["x-custom"] == "kept"


@pytest.mark.parametrize(
    "path, header, signature",
    [
        ("github", "HTTP_X_HUB_SIGNATURE_256", github_signature),
        ("stripe", "HTTP_STRIPE_SIGNATURE", stripe_signature),
    ],
)
def test_senders_signatures_still_verify(hostile, client, path, header, signature):
    body = b'{"id": "evt_1", "type": "ping"}'
    signed = client.post(
        f"{BASE}/{path}", body, "application/json", **{header: signature(body)}
    )
    forged = client.post(
        f"{BASE}/{path}", body, "application/json", **{header: signature(b"{}")}
    )

    assert signed.status_code == 200 and signed.json() == {"verified": path}
    assert forged.status_code in (400, 401)
    assert Document.objects.filter(collection="verified").count() == 1


@pytest.mark.parametrize(
    "name", ["Set-Cookie", "set-cookie", "SET-COOKIE", "Set-Cookie2", "Clear-Site-Data"]
)
def test_an_answer_setting_cookies_is_refused_and_recorded(hostile, client, name):
    answer = client.get(f"{BASE}/answer", {"name": name, "value": "sessionid=evil"})

    assert answer.status_code == 500
    assert answer.json()["error"]["code"] == "handler_failed"
    assert not answer.cookies
    assert "sessionid=evil" not in str(answer.serialize_headers())
    call = WebhookCall.objects.get()
    assert call.status_code == 500
    assert call.error.startswith("WebhookAnswerInvalid: webhook header")
    assert "may not set cookies" in call.error


@pytest.mark.parametrize("status", [100, 101, 103, 199])
def test_an_interim_1xx_answer_is_refused_and_recorded(hostile, client, status):
    answer = client.get(f"{BASE}/answer", {"status": str(status)})

    assert answer.status_code == 500
    call = WebhookCall.objects.get()
    assert call.error == (
        "WebhookAnswerInvalid: webhook status_code must be 200-599 (an interim 1xx "
        f"answer is the server's), got {status}"
    )


@pytest.mark.parametrize("name", ["Content-Security-Policy", "x-content-type-options"])
def test_an_answer_may_not_replace_the_sandbox(hostile, client, name):
    answer = client.get(f"{BASE}/answer", {"name": name, "value": "default-src *"})
    assert answer.status_code == 500
    assert "is set by the server" in WebhookCall.objects.get().error
    assert answer["Content-Security-Policy"] == "sandbox"


@pytest.mark.parametrize(
    "method, path, status",
    [
        ("GET", f"{BASE}/page", 200),  # the handler's own text/html page
        ("POST", f"{BASE}/page", 405),
        ("GET", f"{BASE}/nope", 404),
        ("GET", "/v1/ext/ghost/webhook/x", 404),
        ("GET", f"{BASE}/answer?status=103", 500),
    ],
)
def test_every_webhook_answer_is_sandboxed_and_not_sniffed(
    hostile, client, method, path, status
):
    answer = client.generic(method, path)
    assert answer.status_code == status
    for name, value in SANDBOX.items():
        assert answer[name] == value


def test_without_a_webhook_host_the_rest_of_the_platform_is_unchanged(hostile, client):
    landing = client.get("/")
    assert landing.status_code == 200
    assert "Content-Security-Policy" not in landing


@pytest.fixture
def split(settings, hostile):
    """IMPERAL_WEBHOOK_HOST set, as settings.py sets it from the environment."""
    settings.IMPERAL_WEBHOOK_HOST = HOOK_HOST
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, HOOK_HOST]
    settings.PUBLIC_URL = "https://platform.example"


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/admin/",
        "/admin/login/",
        "/admin/console/",
        "/api/v1/me",
        "/api/schema/",
        "/healthz",
        "/metrics",
        "/v1/internal/store/notes/x",
        "/static/admin/css/base.css",
        "/v1/ext/hostile-hook/webhook/",
    ],
)
def test_on_the_webhook_host_nothing_but_webhooks_answers(split, client, path):
    answer = client.get(path, HTTP_HOST=HOOK_HOST, **CREDENTIALS)

    assert answer.status_code == 404
    error = answer.json()["error"]
    assert error["code"] == "not_found"
    assert "this host serves webhooks only (IMPERAL_WEBHOOK_HOST)" in error["message"]
    assert answer["Content-Security-Policy"] == "sandbox"
    assert not answer.cookies


def test_on_the_webhook_host_webhooks_answer_without_credentials(split, client):
    answer = client.post(
        f"{BASE}/capture", b"{}", "application/json", HTTP_HOST=HOOK_HOST, **CREDENTIALS
    )
    assert answer.status_code == 200
    assert set(captured()[0]).isdisjoint(WITHHELD_HEADERS)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "testserver"])
def test_with_a_webhook_host_no_other_host_runs_a_webhook(split, client, host):
    answer = client.post(f"{BASE}/capture", b"{}", "application/json", HTTP_HOST=host)

    assert answer.status_code == 404
    error = answer.json()["error"]
    assert (
        "webhooks answer on their own host (IMPERAL_WEBHOOK_HOST)" in error["message"]
    )
    assert not captured() and not WebhookCall.objects.exists()
    assert client.get("/", HTTP_HOST=host).status_code == 200  # the rest answers


def test_a_webhook_host_with_a_port_matches_that_port_only(settings, hostile, client):
    settings.IMPERAL_WEBHOOK_HOST = f"{HOOK_HOST}:8443"
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, HOOK_HOST]
    on_port = client.get("/admin/", HTTP_HOST=f"{HOOK_HOST}:8443")
    elsewhere = client.post(
        f"{BASE}/capture", b"{}", "application/json", HTTP_HOST=f"{HOOK_HOST}:9000"
    )
    assert on_port.status_code == elsewhere.status_code == 404
    assert "serves webhooks only" in on_port.json()["error"]["message"]
    assert "their own host" in elsewhere.json()["error"]["message"]


def test_webhook_urls_are_built_on_the_webhook_host(split, hostile):
    ctx = build_context(hostile.ext, webhook_user("default"))
    assert ctx.webhook_url("/capture") == f"https://{HOOK_HOST}{BASE}/capture"
    listed = {w["path"]: w["url"] for w in describe(hostile)["webhooks"]}
    assert listed["/page"] == f"https://{HOOK_HOST}{BASE}/page"
