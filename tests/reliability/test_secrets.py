"""Secrets never surface: not in logs, error bodies, the admin or /metrics.

The secrets: SECRET_KEY, gateway service tokens, user API tokens (also when
sent wrong or tampered with), imperal-sdk call-token secrets and, on
PostgreSQL, the ctx.db role password. Everything the production server
answered and logged, every admin page and /metrics are searched for them.
"""

import pytest
from django.conf import settings
from django.contrib import admin
from django.test import Client
from django.urls import NoReverseMatch, reverse

from apps.accounts.models import ApiToken, User
from apps.db.core import get_backend
from apps.db.naming import role_password
from apps.gateway.tokens import issue_token

from .live import api_token, http, platform_server, registry, service_token

__all__ = ["platform_server", "registry"]  # fixtures
pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
APP = "reliable"
# What the fail tool raises with: an extension's own data, which the caller's
# answer never shows (the log keeps it, with the traceback, for the operator).
PRIVATE = "extension-private-message-5f1c"


def platform_secrets():
    """Return the deployment's own secrets: SECRET_KEY, call-token secrets, db password."""
    found = [settings.SECRET_KEY, *getattr(settings, "IMPERAL_CALL_TOKEN_SECRETS", [])]
    if settings.IS_POSTGRES:
        backend = get_backend()
        role = backend.role(APP)
        secret = backend.options.get("PASSWORD_SECRET") or settings.SECRET_KEY
        found.append(role_password(secret, role))
    return [value for value in found if value]


def tampered(raw):
    """Return ``raw`` with its last character changed (the same length and prefix)."""
    return raw[:-1] + ("A" if raw[-1] != "A" else "B")


def assert_absent(secrets, text, where):
    for secret in secrets:
        assert secret not in text, f"a secret ({secret[:8]}…) appears in {where}"


def exchanges(server, service, api):
    """Make requests that succeed and fail with each credential; return their texts."""
    seen = []
    with http(server, service=service) as gateway, http(server, token=api) as user:
        for client, method, path, body in [
            (gateway, "POST", "/v1/internal/store",
             {"collection": "notes", "data": {"v": 1}, "user_id": "alice"}),
            (gateway, "POST", "/v1/internal/store",
             {"collection": "bad/name", "data": {}, "user_id": "alice"}),
            (gateway, "GET", "/v1/internal/store/notes/missing", None),
            (user, "POST", f"/api/v1/extensions/{APP}/tools/remember/call",
             {"params": {"key": "k", "value": 1}}),
            (user, "POST", f"/api/v1/extensions/{APP}/tools/fail/call",
             {"params": {"text": PRIVATE}}),
            (user, "POST", f"/api/v1/extensions/{APP}/tools/remember/call",
             {"params": {"key": "bad key!", "value": "x"}}),
            (user, "GET", "/api/v1/me/data", None),
            (user, "GET", "/api/v1/me/data/export", None),
            (user, "GET", "/metrics", None),
            (user, "GET", "/healthz", None),
        ]:  # fmt: skip
            response = client.request(method, path, json=body)
            seen.append(f"{response.status_code} {response.headers} {response.text}")
        for wrong in (tampered(service), service[:-6], "imp_s_" + "x" * 43):
            response = gateway.get(
                "/v1/internal/store/notes/k", headers={"X-Service-Token": wrong}
            )
            assert response.status_code == 401
            seen.append(f"{response.headers} {response.text}")
            assert wrong not in response.text
        for wrong in (tampered(api), "Token " + api, api + " extra"):
            response = user.get(
                "/api/v1/me/data", headers={"Authorization": f"Token {wrong}"}
            )
            assert response.status_code == 401
            seen.append(f"{response.headers} {response.text}")
            assert wrong not in response.text
    return seen


def test_no_secret_reaches_an_answer_or_the_servers_log(
    platform_server, registry, alice
):
    service = service_token(platform_server, APP)
    api = api_token(platform_server, alice)
    secrets = [service, api, *platform_secrets()]

    answers = exchanges(platform_server, service, api)

    assert_absent([*secrets, PRIVATE], "\n".join(answers), "an HTTP answer")
    log = platform_server.log()
    assert "POST /v1/internal/store" in log  # the log is the server's own
    assert PRIVATE in log  # the failed handler is logged with its traceback
    assert_absent(secrets, log, "the server's log")
    assert_absent([tampered(service), tampered(api)], log, "the server's log")


def test_no_secret_appears_on_any_admin_page(client, registry, alice, caplog):
    raw_service = issue_token(APP, user_id="alice").raw
    raw_api = ApiToken.issue(alice)[1]
    secrets = [raw_service, raw_api, *platform_secrets()]
    operator = User.objects.create_superuser("root", "root@example.com", "pw-123456")
    client.force_login(operator)

    pages = 0
    for model, model_admin in admin.site._registry.items():
        info = (model._meta.app_label, model._meta.model_name)
        try:
            url = reverse("admin:{}_{}_changelist".format(*info))
        except NoReverseMatch:
            continue
        response = client.get(url, follow=True)
        assert response.status_code == 200, url
        assert_absent(secrets, response.content.decode(), url)
        pages += 1
        first = model_admin.get_queryset(_request(operator)).first()
        if first is not None:
            page = reverse("admin:{}_{}_change".format(*info), args=[first.pk])
            response = client.get(page, follow=True)
            assert response.status_code == 200, page
            assert_absent(secrets, response.content.decode(), page)
            pages += 1
    assert pages > 20
    assert_absent(secrets, caplog.text, "the log")


def _request(user):
    from django.test import RequestFactory

    request = RequestFactory().get("/admin/")
    request.user = user
    return request


@pytest.mark.parametrize(
    ("networks", "token", "address", "authorization", "status"),
    [
        ("127.0.0.0/8,::1/128", "", "127.0.0.1", "", 200),
        ("127.0.0.0/8,::1/128", "", "10.1.2.3", "", 403),
        ("127.0.0.0/8,::1/128", "scrape-me-0123456789", "10.1.2.3",
         "Bearer scrape-me-0123456789", 200),
        ("127.0.0.0/8", "scrape-me-0123456789", "10.1.2.3", "Bearer wrong", 403),
        ("127.0.0.0/8", "", "10.1.2.3", "Bearer ", 403),
        ("10.0.0.0/8", "", "10.1.2.3", "", 200),
        ("", "", "127.0.0.1", "", 403),
        ("::1/128", "", "::1", "", 200),
    ],
)  # fmt: skip
def test_metrics_answer_only_allowed_networks_or_the_token(
    settings, networks, token, address, authorization, status
):
    settings.IMPERAL_METRICS_ALLOWED_NETWORKS = networks
    settings.IMPERAL_METRICS_TOKEN = token
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    response = Client(REMOTE_ADDR=address).get("/metrics", **headers)
    assert response.status_code == status
    if status == 403:
        body = response.json()
        assert body["error"]["code"] == "forbidden"
        assert "IMPERAL_METRICS_ALLOWED_NETWORKS" in body["error"]["message"]
        assert not token or token not in response.content.decode()
    else:
        assert b"imperal_store_threat_total" in response.content
        assert_absent(platform_secrets(), response.content.decode(), "/metrics")


def test_a_malformed_metrics_network_names_the_setting(settings):
    from django.core.exceptions import ImproperlyConfigured

    settings.IMPERAL_METRICS_ALLOWED_NETWORKS = "10.0.0.0/33"
    with pytest.raises(ImproperlyConfigured, match="IMPERAL_METRICS_ALLOWED_NETWORKS"):
        Client(REMOTE_ADDR="10.1.2.3", raise_request_exception=True).get("/metrics")
