"""Webhooks against the production server (scripts/serve.sh) over real HTTP, as the
review attacked them: an operator's live session cookie, an API token and a service
token sent to a hostile webhook reach none of it; its answers are sandboxed and set
no cookie; with IMPERAL_WEBHOOK_HOST set, the admin is not on the webhook host and
no webhook runs on the platform's."""

import hashlib
import hmac
import json

import httpx
import pytest
from django.test import Client

from apps.accounts.models import ApiToken, User
from apps.extensions.models import WebhookCall
from apps.extensions.sync import sync_extensions
from apps.gateway.tokens import issue_token
from apps.store.models import Document
from tests.compat.server import LiveServer
from tests.fixtures.extensions.hostile_webhook import GITHUB_SECRET

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

APP = "hostile-hook"
EXTENSIONS = "tests.fixtures.extensions.hostile_webhook"
BASE = f"/v1/ext/{APP}/webhook"
HOOK_HOST = "hooks.test"


def _server(tmp_path_factory, **env):
    return LiveServer(
        tmp_path_factory.mktemp("webhook-server"), extensions=EXTENSIONS, env=env
    ).start()


@pytest.fixture(scope="module")
def shared(django_db_setup, django_db_blocker, tmp_path_factory):
    """Webhooks beside everything else (IMPERAL_WEBHOOK_HOST unset)."""
    live = _server(tmp_path_factory)
    yield live
    live.stop()


@pytest.fixture(scope="module")
def split(django_db_setup, django_db_blocker, tmp_path_factory):
    """Webhooks on IMPERAL_WEBHOOK_HOST=hooks.test; the platform on 127.0.0.1."""
    live = _server(tmp_path_factory, IMPERAL_WEBHOOK_HOST=HOOK_HOST)
    yield live
    live.stop()


@pytest.fixture
def hostile(use_extensions):
    registry = use_extensions(EXTENSIONS)
    sync_extensions(registry)
    return registry.get(APP)


class Operator:
    """A staff superuser's real credentials: a session (and the CSRF cookie the
    admin gives it), an API token; and a service token of the extension."""

    def __init__(self, server):
        user = User.objects.create(
            username="operator",
            imperal_id="operator",
            email="operator@example.com",
            is_staff=True,
            is_superuser=True,
        )
        browser = Client()
        browser.force_login(user)
        self.session = browser.cookies["sessionid"].value
        admin = httpx.get(
            f"{server.url}/admin/", cookies={"sessionid": self.session}, timeout=30
        )
        assert admin.status_code == 200 and "Site administration" in admin.text
        self.csrf = admin.cookies["csrftoken"]
        self.api_token = ApiToken.issue(user)[1]
        self.service_token = issue_token(APP).raw

    def secrets(self):
        return [self.session, self.csrf, self.api_token, self.service_token]

    def headers(self):
        return {
            "Cookie": f"sessionid={self.session}; csrftoken={self.csrf}",
            "X-CSRFToken": self.csrf,
            "Authorization": f"Token {self.api_token}",
            "X-Service-Token": self.service_token,
            "X-Acting-User": "alice",
            "X-Forwarded-For": "10.0.0.7",
            "Forwarded": "for=10.0.0.7;proto=https",
        }


def captured():
    docs = Document.objects.filter(app_id=APP, collection="captured").order_by("pk")
    return [doc.data["headers"] for doc in docs]


def signed(body):
    return "sha256=" + hmac.new(GITHUB_SECRET, body, hashlib.sha256).hexdigest()


def test_an_operators_credentials_never_reach_a_webhook_handler(shared, hostile):
    operator = Operator(shared)
    body = b'{"action": "opened"}'
    answer = httpx.post(
        f"{shared.url}{BASE}/capture",
        content=body,
        headers={
            **operator.headers(),
            "Content-Type": "application/json",
            "X-Hub-Signature-256": signed(body),
        },
        timeout=30,
    )

    assert answer.status_code == 200
    (seen,) = captured()
    stored = json.dumps(seen)
    for secret in operator.secrets():
        assert secret not in stored
    for name in ("cookie", "authorization", "x-service-token", "x-acting-user"):
        assert name not in seen
    assert "x-forwarded-for" not in seen and "forwarded" not in seen
    assert seen["x-hub-signature-256"] == signed(body)
    assert "set-cookie" not in answer.headers


def test_a_signed_event_verifies_over_http(shared, hostile):
    body = b'{"zen": "Keep it logically awesome."}'
    url = f"{shared.url}{BASE}/github"
    good = httpx.post(url, content=body, headers={"X-Hub-Signature-256": signed(body)})
    bad = httpx.post(url, content=body, headers={"X-Hub-Signature-256": signed(b"")})
    assert (good.status_code, bad.status_code) == (200, 401)
    assert Document.objects.filter(collection="verified").count() == 1


def test_a_webhook_page_is_sandboxed_and_its_cookies_are_refused(shared, hostile):
    page = httpx.get(f"{shared.url}{BASE}/page", timeout=30)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == "sandbox"
    assert page.headers["x-content-type-options"] == "nosniff"

    cookie = httpx.get(
        f"{shared.url}{BASE}/answer",
        params={"name": "sEt-CoOkIe", "value": "sessionid=planted; Path=/"},
        timeout=30,
    )
    interim = httpx.get(f"{shared.url}{BASE}/answer?status=103", timeout=30)
    for answer in (cookie, interim):
        assert answer.status_code == 500
        assert answer.json()["error"]["code"] == "handler_failed"
        assert "set-cookie" not in answer.headers
        assert answer.headers["content-security-policy"] == "sandbox"
    errors = list(WebhookCall.objects.order_by("pk").values_list("error", flat=True))
    assert [e.split(":")[0] for e in errors[-2:]] == ["WebhookAnswerInvalid"] * 2


def on(server, host, method, path, **kwargs):
    """Send a request to ``server`` naming ``host`` in its Host header."""
    headers = {"Host": host, **kwargs.pop("headers", {})}
    return httpx.request(
        method, f"{server.url}{path}", headers=headers, timeout=30, **kwargs
    )


@pytest.mark.parametrize(
    "path",
    ["/admin/", "/admin/console/", "/api/v1/me", "/", "/healthz", "/metrics"],
)
def test_on_the_webhook_host_an_operators_session_gets_nothing(split, hostile, path):
    operator = Operator(split)
    answer = on(split, HOOK_HOST, "GET", path, headers=operator.headers())

    assert answer.status_code == 404
    error = answer.json()["error"]
    assert error["code"] == "not_found"
    assert "this host serves webhooks only (IMPERAL_WEBHOOK_HOST)" in error["message"]
    assert "set-cookie" not in answer.headers
    for secret in operator.secrets():
        assert secret not in answer.text


def test_the_webhook_host_runs_webhooks_without_the_visitors_cookie(split, hostile):
    operator = Operator(split)
    answer = on(
        split, HOOK_HOST, "POST", f"{BASE}/capture", content=b"{}",
        headers=operator.headers(),
    )  # fmt: skip
    assert answer.status_code == 200
    assert answer.headers["content-security-policy"] == "sandbox"
    (seen,) = captured()
    assert "cookie" not in seen and "authorization" not in seen


def test_the_platforms_host_runs_no_webhook(split, hostile):
    main_host = f"127.0.0.1:{split.port}"
    refused = on(split, main_host, "POST", f"{BASE}/capture", content=b"{}")

    assert refused.status_code == 404
    error = refused.json()["error"]
    assert (
        "webhooks answer on their own host (IMPERAL_WEBHOOK_HOST)" in error["message"]
    )
    assert not captured() and not WebhookCall.objects.exists()
    assert on(split, main_host, "GET", "/admin/login/").status_code == 200
