"""One user-id rule (apps.accounts.ids) on every face, attacked as the review did.

An outsider reaches ``ctx.as_user(query_params["uid"])`` through a webhook; an
extension calls ``as_user`` / ``for_user`` itself or through the gateway; a
user or operator names an id on the CLI, the REST API or the admin. Each
refusal is a ValueError (over HTTP a 400 in the one error shape) naming the
rule, and nothing is stored: documents, audit rows, notifications, users,
tokens and cache entries are compared before and after. Runs on both
backends (each CI pass).
"""

import html
import json
from urllib.parse import quote, urlencode

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from apps.accounts.identity import system_user_context
from apps.accounts.ids import USER_ID_RULE, InvalidUserId, check_user_id
from apps.accounts.models import User
from apps.accounts.partition import Partition
from apps.cache.core import get_core
from apps.extensions.context import build_context
from apps.extensions.sync import sync_extensions
from apps.extensions.webhooks import webhook_user
from apps.gateway.models import ServiceToken
from apps.gateway.tokens import issue_token
from apps.notifications.core import send_notification
from apps.notifications.models import Notification
from apps.store.models import AuditEntry, Document
from tests.api.conftest import Api, cache_prefix, token_for  # noqa: F401  (a fixture)

pytestmark = pytest.mark.django_db

APP = "uid-probe"
ENTRY = "tests.fixtures.extensions.uid_probe"
RULE = "a user id is a string of 1-128 characters"
# What the review sent, and the rest of the rule's edges.
MALFORMED = {
    "slash": "a/b",
    "space": "two words",
    "markup": "<script>alert(1)</script>",
    "quote": 'x"onmouseover=',
    "5000-chars": "a" * 5000,
    "129-chars": "a" * 129,
    "dot": ".",
    "dot-dot": "..",
    "tab": "a\tb",
    "newline": "a\nb",
    "nul": "a\x00b",
    "rtl-override": "evil\u202etxt",
    "zero-width": "al\u200bice",
    "empty": "",
}
# Over HTTP a NUL is refused at the edge, before any view (one place for every route).
SENDABLE = {n: uid for n, uid in MALFORMED.items() if n not in ("empty", "nul")}
PLATFORM_IDS = ["__system__", "__webhook__"]
ACCEPTED = ["alice", "alice@example.com", "auth0|5f7c", "Ωmega-1", "a" * 128]


@pytest.fixture(autouse=True)
def extension(use_extensions, cache_prefix):  # noqa: F811  (the imported fixture)
    loaded = use_extensions(ENTRY)
    sync_extensions()
    return loaded.get(APP)


def stored_state(prefix):
    """Return every row and cache entry an attack could have left, as values."""
    backend = get_core().backend
    return {
        "documents": sorted(
            Document.objects.values_list("user_id", "collection", "doc_id")
        ),
        "audit": AuditEntry.objects.count(),
        "notifications": sorted(Notification.objects.values_list("user_id", "message")),
        "users": sorted(User.objects.values_list("imperal_id", flat=True)),
        "tokens": ServiceToken.objects.count(),
        "cache": sorted(e.key for e in backend.list(prefix + ":", 100_000)),
    }


def hook(path, uid, body="Ada", **more):
    query = urlencode({"uid": uid, **more})
    return Client().post(
        f"/v1/ext/{APP}/webhook/{path}?{query}", body, content_type="text/plain"
    )


def error_of(response, status=400):
    assert response.status_code == status, response.content[:300]
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {
        "code",
        "message",
        "detail",
    }
    return body["error"]


# --- the rule itself -------------------------------------------------------------
@pytest.mark.parametrize("uid", list(MALFORMED.values()) + [None, 7, "\ud800"])
def test_the_rule_refuses_each_malformed_id_naming_itself_and_the_value(uid):
    with pytest.raises(InvalidUserId) as refused:
        check_user_id(uid, "somewhere")
    message = str(refused.value)
    assert message.startswith(f"somewhere: {USER_ID_RULE}; got ")
    assert len(message) < len(USER_ID_RULE) + 140  # the value is clipped
    assert isinstance(refused.value, ValueError)


@pytest.mark.parametrize("uid", ACCEPTED)
def test_the_rule_accepts_ordinary_ids(uid):
    assert check_user_id(uid) == uid


# --- an outsider, through a webhook --------------------------------------------------
def test_the_webhook_pattern_works_for_a_well_formed_id(cache_prefix):  # noqa: F811
    answer = hook("profile", "alice")
    assert answer.status_code == 200, answer.content
    state = stored_state(cache_prefix)
    assert state["documents"] == [("alice", "profiles", "main")]
    assert state["notifications"] == [("alice", "profile Ada")]
    assert len(state["cache"]) == 1


@pytest.mark.parametrize("uid", SENDABLE.values(), ids=SENDABLE.keys())
def test_an_outsider_cannot_store_under_a_malformed_id_through_a_webhook(
    cache_prefix,  # noqa: F811
    uid,
):
    before = stored_state(cache_prefix)

    error = error_of(hook("profile", uid))

    assert error["code"] == "invalid_argument"
    assert f"ctx.as_user(): {RULE}" in error["message"]
    assert stored_state(cache_prefix) == before


@pytest.mark.parametrize("uid", PLATFORM_IDS)
def test_an_outsider_cannot_reach_a_platform_identity_through_a_webhook(
    cache_prefix,  # noqa: F811
    uid,
):
    before = stored_state(cache_prefix)
    error = error_of(hook("profile", uid))
    assert "is a platform identity, not a user" in error["message"]
    assert stored_state(cache_prefix) == before


@pytest.mark.parametrize("surface", ["store", "notify"])
@pytest.mark.parametrize("uid", ["a/b", "two words", "a" * 5000, "<b>x</b>"])
def test_for_user_in_a_webhook_refuses_a_malformed_id(
    cache_prefix,  # noqa: F811
    surface,
    uid,
):
    before = stored_state(cache_prefix)
    error = error_of(hook("for-user", uid, surface=surface))
    assert RULE in error["message"]
    assert stored_state(cache_prefix) == before


# --- an extension, in process ------------------------------------------------------
@pytest.mark.parametrize("uid", MALFORMED.values(), ids=MALFORMED.keys())
@pytest.mark.parametrize("identity", ["system", "webhook"])
def test_an_extension_cannot_address_a_malformed_id(
    extension,
    cache_prefix,  # noqa: F811
    identity,
    uid,
):
    user = system_user_context() if identity == "system" else webhook_user("default")
    ctx = build_context(extension.ext, user)
    before = stored_state(cache_prefix)

    for attempt in (
        lambda: ctx.as_user(uid),
        lambda: ctx.store.for_user(uid),
        lambda: ctx.notify.for_user(uid),
    ):
        with pytest.raises(ValueError, match=RULE):
            attempt()

    assert stored_state(cache_prefix) == before


def test_no_context_is_built_for_a_malformed_id(extension):
    user = system_user_context().model_copy(update={"imperal_id": "a/b"})
    with pytest.raises(InvalidUserId, match="the context's user"):
        build_context(extension.ext, user)


def test_the_notify_core_refuses_a_malformed_recipient(cache_prefix):  # noqa: F811
    with pytest.raises(InvalidUserId, match="notify: the recipient"):
        send_notification(Partition("default", APP, "a/b"), "hello")
    assert not Notification.objects.exists()


# --- an extension, through the gateway ---------------------------------------------
@pytest.fixture
def wide_token():
    return issue_token(APP).raw


def gateway(method, path, token, body):
    return Client().generic(
        method,
        path,
        json.dumps(body),
        content_type="application/json",
        HTTP_X_SERVICE_TOKEN=token,
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


@pytest.mark.parametrize("uid", ["a/b", "two words", "a" * 5000, "<i>", ".."])
def test_an_extension_wide_token_cannot_act_for_a_malformed_id(
    wide_token,
    cache_prefix,  # noqa: F811
    uid,
):
    before = stored_state(cache_prefix)
    create = {"collection": "profiles", "data": {"n": 1}, "user_id": uid}
    notify = {"user_id": uid, "message": "hi"}
    for answer in (
        gateway("POST", "/v1/internal/store", wide_token, create),
        gateway("POST", "/v1/internal/notify", wide_token, notify),
    ):
        error = error_of(answer)
        assert f"gateway: the acting user (user_id): {RULE}" in error["message"]
    put = gateway(
        "PUT",
        f"/v1/internal/extcache/{APP}/{quote(uid, safe='')}/profile/{'0' * 16}",
        wide_token,
        {"envelope": {}, "ttl_seconds": 60},
    )
    if "/" in uid:  # the route's user is one path segment
        assert put.status_code == 404
    else:
        assert (
            f"gateway: the acting user (path user): {RULE}"
            in (error_of(put)["message"])
        )
    assert stored_state(cache_prefix) == before


@pytest.mark.parametrize("uid", ["a/b", "two words", "<b>"])
def test_no_service_token_is_issued_for_a_malformed_id(uid):
    with pytest.raises(InvalidUserId, match=RULE):
        issue_token(APP, user_id=uid)
    assert not ServiceToken.objects.exists()


# --- a user, an operator ------------------------------------------------------------
@pytest.mark.parametrize("uid", SENDABLE.values(), ids=SENDABLE.keys())
def test_user_token_refuses_a_malformed_id_and_creates_no_user(uid):
    with pytest.raises(CommandError, match=RULE):
        call_command("user_token", uid)
    assert not User.objects.exists()


@pytest.mark.parametrize("command", ["call", "panel"])
@pytest.mark.parametrize("uid", ["a/b", "two words", "a" * 5000])
def test_ext_call_refuses_a_malformed_user_before_running(
    cache_prefix,  # noqa: F811
    command,
    uid,
):
    before = stored_state(cache_prefix)
    with pytest.raises(CommandError, match=RULE) as refused:
        call_command("ext", command, APP, "whoami", "--user", uid)
    assert refused.value.returncode == 2
    assert stored_state(cache_prefix) == before


@pytest.mark.parametrize("uid", ["a/b", "<b>x</b>", "a" * 5000, "."])
def test_no_user_account_takes_a_malformed_id(uid):
    with pytest.raises(InvalidUserId, match="imperal_id"):
        User.objects.create(username="someone", imperal_id=uid)
    with pytest.raises(InvalidUserId, match="imperal_id"):
        User.objects.get_or_create_for_imperal_id(uid)
    assert not User.objects.exists()


def test_the_admin_add_form_names_the_rule(db):
    User.objects.create_superuser("root", "root@example.com", "pw", imperal_id="root")
    admin = Client()
    admin.force_login(User.objects.get(imperal_id="root"))
    answer = admin.post(
        "/admin/accounts/user/add/",
        {
            "username": "mallory",
            "password1": "a-long-passphrase-1",
            "password2": "a-long-passphrase-1",
            "imperal_id": "mal/lory",
            "tenant_id": "default",
            "role": "user",
        },
    )
    assert answer.status_code == 200  # the form again, with the error
    assert f"imperal_id: {USER_ID_RULE}" in html.unescape(answer.content.decode())
    assert list(User.objects.values_list("imperal_id", flat=True)) == ["root"]


@pytest.mark.parametrize("uid", ["a/b", "two words", "<b>"])
def test_the_call_route_refuses_a_malformed_user_before_running(
    cache_prefix,  # noqa: F811
    uid,
):
    olga = User.objects.create(
        username="olga", imperal_id="olga", is_staff=True, is_superuser=True
    )
    before = stored_state(cache_prefix)
    body = {"user_id": uid, "function": "whoami", "params": {}}
    error = error_of(Api(token_for(olga)).post(f"/v1/extensions/{APP}/call", body))
    assert RULE in error["message"]
    assert stored_state(cache_prefix) == before


@pytest.mark.parametrize("path", ["", "/documents?collection=profiles", "/export"])
@pytest.mark.parametrize("uid", ["two%20words", "%3Cb%3E", "a" * 129])
def test_operator_partition_routes_refuse_a_malformed_id(path, uid):
    olga = User.objects.create(
        username="olga", imperal_id="olga", is_staff=True, is_superuser=True
    )
    route = f"/api/v1/operator/extensions/{APP}/partitions/{uid}{path}"
    error = error_of(Api(token_for(olga)).get(route))
    assert error["code"] == "invalid_argument"
    assert f"user_id: {RULE}" in error["message"]
