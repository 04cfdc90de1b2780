"""A NUL character in a URL path, a query parameter, a cookie or a page's form
field is a 400 naming the rule on every route, before anything reads or writes.

PostgreSQL text cannot hold NUL: each of these was a 500 with a traceback in the
log there (a webhook path reachable by anyone, the console's ``?q=``, an operator
schedule's runs, the gateway's list_users cursor, a session cookie). The answer is
the one error shape, or a plain HTML page on the admin and console; the
platform's state is the same afterwards, on both backends.
"""

import hashlib

import pytest
from django.apps import apps
from django.test import Client

from apps.accounts.models import ApiToken, User
from apps.accounts.partition import Partition
from apps.gateway.tokens import issue_token
from apps.store.connections import DjangoConnection
from apps.store.core import DocumentStore
from apps.store.models import Document

pytestmark = pytest.mark.django_db

EXTENSIONS = ("tests.fixtures.extensions.webhook_probe", "extensions.contacts")
APP = "contacts"
# A cookie value in double quotes may carry octal escapes; \000 decodes to NUL.
NUL_SESSION_COOKIE = 'sessionid="abcdefgh\\000ijklmnopqrstuvwxyz0123456"'
LOGIN = "/admin/login/"


@pytest.fixture
def credentials(use_extensions, settings):
    """Return {kind: request headers} for an outsider, a user, an operator, a
    system service token and an extension-wide one."""
    settings.IMPERAL_API_RATES = {"user": ""}
    use_extensions(*EXTENSIONS)
    operator = User.objects.create(
        username="olga", imperal_id="olga", is_staff=True, is_superuser=True
    )
    alice = User.objects.create(username="alice", imperal_id="alice")
    DocumentStore(DjangoConnection()).create(
        _partition("alice"), "user", "contacts", {"doc_id": "c1", "name": "A"}
    )
    return {
        "outsider": {},
        "user": {"HTTP_AUTHORIZATION": f"Token {ApiToken.issue(alice)[1]}"},
        "operator": {"HTTP_AUTHORIZATION": f"Token {ApiToken.issue(operator)[1]}"},
        "operator-session": {"session_of": operator},
        "system": {"HTTP_X_SERVICE_TOKEN": issue_token(APP, user_id="__system__").raw},
        "wide": {
            "HTTP_X_SERVICE_TOKEN": issue_token(APP).raw,
            "HTTP_X_ACTING_USER": "alice",
        },
    }


def _partition(user):
    return Partition("default", APP, user)


def checksum():
    """Return a digest of every row of every model."""
    digest = hashlib.sha256()
    for model in sorted(apps.get_models(), key=lambda m: m._meta.label):
        names = [
            f.attname
            for f in model._meta.concrete_fields
            if f.name not in {"last_used_at", "last_login"}
        ]
        rows = model._base_manager.order_by("pk").values_list(*names)
        digest.update(f"{model._meta.label}:{list(rows)!r}".encode())
    return digest.hexdigest()


SCHEDULE = f"/api/v1/operator/schedules/{APP}"
# (id, who, method, path, extra request arguments, family, where the NUL is)
CASES = [
    ("webhook-path", "outsider", "POST", "/v1/ext/webhook-probe/webhook/ev%00ents",
     {}, "json", "the URL path"),
    ("webhook-app", "outsider", "POST", "/v1/ext/webhook%00probe/webhook/events",
     {}, "json", "the URL path"),
    ("webhook-query", "outsider", "GET",
     "/v1/ext/webhook-probe/webhook/whoami?uid=a%00b", {}, "json",
     "query parameter 'uid' = 'a\\x00b'"),
    ("console-q", "operator-session", "GET",
     f"/admin/console/partitions/{APP}/?q=a%00b", {}, "html", "query parameter 'q'"),
    ("console-partition-path", "operator-session", "GET",
     f"/admin/console/partitions/{APP}/al%00ice/", {}, "html", "the URL path"),
    ("admin-search", "operator-session", "GET", "/admin/accounts/user/?q=a%00b", {},
     "html", "query parameter 'q'"),
    ("schedule-runs-path", "operator", "GET", f"{SCHEDULE}/x%00y/runs", {}, "json",
     "the URL path"),
    ("schedule-run-now-path", "operator", "POST", f"{SCHEDULE}/x%00y/run", {},
     "json", "the URL path"),
    ("schedule-runs-cursor", "operator", "GET", f"{SCHEDULE}/x/runs?cursor=%00",
     {}, "json", "query parameter 'cursor'"),
    ("security-events-kind", "operator", "GET",
     "/api/v1/operator/security-events?kind=a%00b", {}, "json",
     "query parameter 'kind'"),
    ("list-users-cursor", "system", "GET",
     "/v1/internal/store/contacts/list_users?cursor=u:a%00b", {}, "json",
     "query parameter 'cursor'"),
    ("gateway-doc-id", "wide", "DELETE", "/v1/internal/store/contacts/c1%00", {},
     "json", "the URL path"),
    ("query-name", "user", "GET", "/api/v1/me/data?ext%00ension=contacts", {},
     "json", "query parameter 'ext\\x00ension'"),
    ("erase-query", "user", "DELETE", "/api/v1/me/data?extension=contacts%00", {},
     "json", "query parameter 'extension'"),
    ("tool-path", "user", "POST", f"/api/v1/extensions/{APP}/tools/add%00/call",
     {"data": "{}", "content_type": "application/json"}, "json", "the URL path"),
    ("session-cookie-api", "outsider", "GET", "/api/v1/me/data",
     {"HTTP_COOKIE": NUL_SESSION_COOKIE}, "json", "cookie 'sessionid'"),
    ("session-cookie-admin", "outsider", "GET", "/admin/",
     {"HTTP_COOKIE": NUL_SESSION_COOKIE}, "html", "cookie 'sessionid'"),
    ("login-form", "outsider", "POST", LOGIN,
     {"data": {"username": "olga\x00", "password": "secret-pw"}}, "html",
     "form field 'username'"),
    ("console-edit-form", "operator-session", "POST",
     f"/admin/console/partitions/{APP}/alice/c/contacts/c1/",
     {"data": {"etag": "e\x00", "data": '{"name": "B"}'}}, "html",
     "form field 'etag'"),
]  # fmt: skip


@pytest.mark.parametrize(
    "who, method, path, extra, family, where",
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_a_nul_anywhere_in_a_request_is_a_400_naming_the_rule(
    credentials, who, method, path, extra, family, where
):
    client = Client(raise_request_exception=False)
    headers = dict(credentials[who])
    if "session_of" in headers:
        client.force_login(headers.pop("session_of"))
    before = checksum()
    if method == "POST" and "data" in extra and isinstance(extra["data"], dict):
        response = client.post(path, extra["data"], **headers)
    else:
        response = client.generic(method, path, **extra, **headers)
    assert response.status_code == 400, response.content[:300]
    text = response.content.decode()
    assert "Traceback" not in text
    if family == "json":
        error = response.json()["error"]
        assert error["code"] == "invalid_argument"
        assert set(error) == {"code", "message", "detail"}
        message = error["message"]
    else:
        assert response["Content-Type"].startswith("text/html")
        assert "<h1>Bad Request (400)</h1>" in text
        message = _unescape(text)
    assert "holds a NUL character" in message and "U+0000" in message
    assert where in message
    assert "secret-pw" not in text  # form values are never quoted back
    assert checksum() == before


def _unescape(html):
    return html.replace("&#x27;", "'").replace("&quot;", '"').replace("&amp;", "&")


def test_the_same_requests_without_nul_are_served(credentials):
    """The control: each route above answers (not 400) when the NUL is gone."""
    client = Client(raise_request_exception=False)
    client.force_login(User.objects.get(imperal_id="olga"))
    assert client.get(f"/admin/console/partitions/{APP}/?q=ab").status_code == 200
    system = credentials["system"]
    listed = client.get("/v1/internal/store/contacts/list_users?cursor=0", **system)
    assert listed.json()["user_ids"] == ["alice"]
    wide = credentials["wide"]
    deleted = client.delete("/v1/internal/store/contacts/c1", **wide)
    assert deleted.status_code == 200
    assert not Document.objects.filter(doc_id="c1").exists()


def test_a_gateway_if_match_holding_nul_is_a_400_and_updates_nothing(credentials):
    client = Client(raise_request_exception=False)
    before = checksum()
    response = client.patch(
        "/v1/internal/store/contacts/c1",
        '{"data": {"name": "B"}, "if_match": "e\\u0000"}',
        content_type="application/json",
        **credentials["wide"],
    )
    assert response.status_code == 400, response.content
    assert "if_match: strings cannot contain NUL" in response.json()["error"]["message"]
    assert checksum() == before
