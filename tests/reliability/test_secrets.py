"""Secrets never surface: not in logs, error bodies, the admin or /metrics.

The secrets: SECRET_KEY, gateway service tokens, user API tokens (also when
sent wrong or tampered with), imperal-sdk call-token secrets, on PostgreSQL
the ctx.db role password, and the values extensions keep in ctx.secrets.
Everything the production server answered and logged, every admin page,
exports, the audit trail, /metrics and tracebacks with their locals are
searched for them.
"""

import traceback

import httpx
import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import ImproperlyConfigured
from django.test import Client
from django.urls import NoReverseMatch, reverse
from django.views.debug import ExceptionReporter

from apps.accounts.models import ApiToken, User
from apps.accounts.partition import Partition
from apps.db.core import get_backend
from apps.db.naming import role_password
from apps.extensions.sync import sync_extensions
from apps.gateway.tokens import issue_token
from apps.secrets.core import Actor
from apps.secrets.core import Vault as VaultCore
from apps.secrets.models import APP_OWNER, SecretAccess, SecretValue
from tests.compat.server import LiveServer
from tests.gateway.conftest import call_token
from tests.secrets.conftest import ENTRIES as VAULT_ENTRIES

from .live import (
    api_token,
    http,
    in_process,
    platform_server,
    registry,
    service_token,
)

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


# --- ctx.secrets: the values extensions keep in the vault ---------------------------

VAULT_APP = "vault-probe"
USER_VALUE = "plain-user-token-6e1f0a"
WIRE_VALUE = "plain-wire-token-2b9d44"
APP_VALUE = "plain-app-secret-91c7e3"


@pytest.fixture(scope="module")
def vault_server(django_db_setup, django_db_blocker, tmp_path_factory):
    """The production server with the vault's probe extension, logging at DEBUG."""
    server = LiveServer(
        tmp_path_factory.mktemp("vault"),
        extensions=",".join(VAULT_ENTRIES),
        env={"LOG_LEVEL": "DEBUG"},
    )
    server.tokens = []
    server.start()
    yield server
    server.stop()


@pytest.fixture
def vault_registry(use_extensions):
    registry = use_extensions(*VAULT_ENTRIES)
    sync_extensions(registry)
    return registry


def vault_exchanges(server, api, call):
    """Set, list, use, refuse and export secrets over HTTP; return each answer's text."""
    seen = []
    route = f"/api/v1/me/secrets/{VAULT_APP}"
    wire = f"/v1/secrets/{VAULT_APP}"
    with (
        http(server, token=api) as user,
        httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {call}"}, timeout=30
        ) as gateway,
    ):
        for client, method, path, body in [
            (user, "PUT", f"{route}/api_key", {"value": USER_VALUE}),
            (user, "PUT", f"{route}/api_key", {"value": USER_VALUE * 4}),
            (user, "PUT", f"{route}/client_secret", {"value": USER_VALUE}),
            (user, "GET", route, None),
            (gateway, "PUT", f"{wire}/refresh_token", {"value": WIRE_VALUE}),
            (gateway, "PUT", f"{wire}/api_key", {"value": WIRE_VALUE}),
            (gateway, "GET", wire, None),
            (gateway, "GET", f"{wire}/refresh_token/meta", None),
            (user, "POST", f"/api/v1/extensions/{VAULT_APP}/tools/fail_after_reading/call",
             {"params": {"name": "api_key"}}),
            (user, "POST", f"/api/v1/extensions/{VAULT_APP}/panels/secrets/call",
             {"params": {}}),
            (user, "GET", "/api/v1/me/data", None),
            (user, "GET", "/api/v1/me/data/export", None),
            (user, "GET", "/metrics", None),
        ]:  # fmt: skip
            response = client.request(method, path, json=body)
            assert response.status_code < 500 or "fail_after" in path, response.text
            seen.append(f"{response.status_code} {response.headers} {response.text}")
        # The one answer that carries a value: the gateway's, to the extension.
        read = gateway.get(f"{wire}/refresh_token")
        assert read.json()["value"] == WIRE_VALUE
        assert read.headers["Cache-Control"] == "no-store"
    return seen


def test_no_secret_value_reaches_an_answer_the_log_an_export_or_metrics(
    vault_server, vault_registry, alice
):
    api = api_token(vault_server, alice)
    call = call_token(VAULT_APP, "alice")
    vault_server.tokens.append(call)
    VaultCore().set(
        Partition("default", VAULT_APP, APP_OWNER),
        vault_registry.get(VAULT_APP).ext.secrets["client_secret"],
        APP_VALUE,
        Actor(SecretAccess.Actor.OPERATOR, "root"),
    )
    values = [USER_VALUE, WIRE_VALUE, APP_VALUE]

    answers = vault_exchanges(vault_server, api, call)

    assert_absent(values, "\n".join(answers), "an HTTP answer")
    stored = SecretValue.objects.filter(app_id=VAULT_APP)
    assert set(stored.values_list("name", flat=True)) == {
        "api_key",
        "refresh_token",
        "client_secret",
    }
    for row in stored:
        assert_absent(values, bytes(row.ciphertext).decode("latin-1"), "a sealed row")
    audit = "\n".join(str(a) for a in SecretAccess.objects.values())
    assert "api_key" in audit
    assert_absent(values, audit, "the audit trail")
    log = vault_server.log()
    assert "DEBUG" in log and "/v1/secrets/vault-probe/refresh_token" in log
    assert "RuntimeError: upstream refused the request" in log  # the traceback
    assert_absent([*values, *vault_server.tokens], log, "the server's log")


def test_no_secret_value_appears_on_an_admin_page(
    client, vault_registry, alice, caplog
):
    caplog.set_level("DEBUG")
    specs = vault_registry.get(VAULT_APP).ext.secrets
    vault = VaultCore()
    vault.set(
        Partition("default", VAULT_APP, "alice"),
        specs["api_key"],
        USER_VALUE,
        Actor(SecretAccess.Actor.USER, "alice"),
    )
    vault.set(
        Partition("default", VAULT_APP, APP_OWNER),
        specs["client_secret"],
        APP_VALUE,
        Actor(SecretAccess.Actor.OPERATOR, "root"),
    )
    vault.get(
        Partition("default", VAULT_APP, "alice"),
        specs["api_key"],
        Actor(SecretAccess.Actor.EXTENSION, "alice"),
    )
    operator = User.objects.create_superuser("root", "root@example.com", "pw-123456")
    client.force_login(operator)

    for model in (SecretValue, SecretAccess):
        info = (model._meta.app_label, model._meta.model_name)
        pages = [reverse("admin:{}_{}_changelist".format(*info))]
        pages += [
            reverse("admin:{}_{}_change".format(*info), args=[pk])
            for pk in model.objects.values_list("pk", flat=True)
        ]
        pages.append(reverse("admin:secrets_secretvalue_add"))
        for url in pages:
            response = client.get(url, follow=True)
            assert response.status_code == 200, url
            assert_absent([USER_VALUE, APP_VALUE], response.content.decode(), url)
    assert_absent([USER_VALUE, APP_VALUE], caplog.text, "the log")


PLATFORM_CODE = (
    str(settings.BASE_DIR / "apps"),
    str(settings.BASE_DIR / "imperal_platform"),
)
NOTE_VALUE = "plain-note-4d2a9"  # note holds 16 bytes


def platform_frame_locals(exc_info):
    """Return {function: its locals as text} of the platform's frames in a failure,
    as Python's capture_locals and Django's error report each show them."""
    shown = {}
    summary = traceback.TracebackException(*exc_info, capture_locals=True)
    for frame in summary.stack:
        if frame.filename.startswith(PLATFORM_CODE):
            shown[f"python {frame.name}"] = str(frame.locals)
    for frame in ExceptionReporter(None, *exc_info).get_traceback_frames():
        if frame["filename"].startswith(PLATFORM_CODE):
            shown[f"django {frame['function']}"] = str(frame["vars"])
    return shown


def test_no_platform_frame_holds_a_secret_value_in_a_traceback(
    vault_registry, alice, settings
):
    VaultCore().set(
        Partition("default", VAULT_APP, "alice"),
        vault_registry.get(VAULT_APP).ext.secrets["api_key"],
        USER_VALUE,
        Actor(SecretAccess.Actor.USER, "alice"),
    )
    ctx = in_process(vault_registry, VAULT_APP, "alice")

    async def write(ctx):
        await ctx.secrets.set("note", NOTE_VALUE)

    async def use(ctx):
        token = await ctx.secrets.get("api_key")
        raise RuntimeError(f"upstream refused ({len(token)} chars)")

    settings.IMPERAL_SECRETS_KEYS = ["not-a-key"]  # the cipher fails mid-write
    with pytest.raises(ImproperlyConfigured) as while_writing:
        async_to_sync(write)(ctx)
    settings.IMPERAL_SECRETS_KEYS = []
    with pytest.raises(RuntimeError) as after_reading:
        async_to_sync(use)(ctx)

    written = platform_frame_locals(while_writing._excinfo)
    assert {"python set", "django set", "python _call"} <= set(written)
    for function, text in written.items():
        assert NOTE_VALUE not in text, f"the value is a local of {function}"
    assert "SecretText('********')" in written["python set"]
    handler = traceback.TracebackException(
        *after_reading._excinfo, capture_locals=True
    ).stack[-1]
    assert handler.name == "use"
    assert handler.locals["token"] == "SecretText('********')"
    assert not SecretValue.objects.filter(name="note").exists()
