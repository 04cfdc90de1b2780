"""Who may do what: every credential failure is a 401, every mismatch a 403 that
leaves a SecurityEvent and a count on imperal_store_threat_total; no token ever
shows in a response body or a log line."""

import base64
import json
import logging
import time

import pytest

from apps.extensions.models import Extension
from apps.gateway.models import ServiceToken
from apps.store.connections import DjangoConnection
from apps.store.core import DocumentStore

from .conftest import APP, OTHER_APP, call_token, error_of, extcache, partition

STORE = "/v1/internal/store"
DOC = f"{STORE}/notes/d"


@pytest.fixture
def alice_doc(db):
    return DocumentStore(DjangoConnection()).create(
        partition("alice"), "user", "notes", {"doc_id": "d", "v": 1}
    )


@pytest.fixture
def tokens_seen(caplog):
    """Collect every raw token a test uses; afterwards, none is in the log."""
    caplog.set_level(logging.DEBUG)
    seen = []
    yield seen
    # caplog.text holds only the current phase's records: read the test's own.
    records = caplog.get_records("setup") + caplog.get_records("call")
    assert records, "nothing was logged: the check below would prove nothing"
    text = "\n".join(logging.Formatter().format(record) for record in records)
    for raw in seen:
        assert raw not in text


def assert_401(response, fragment):
    assert response.status_code == 401, response.content
    error = error_of(response)
    assert error["code"] == "unauthenticated"
    assert fragment in error["message"]
    assert response.has_header("WWW-Authenticate")


def assert_403(threats, kind, send, app_id=APP):
    """Send a request; assert it is a 403 that added one event and one count of ``kind``."""
    events, counter = threats.snapshot(kind, app_id)
    response = send()
    assert response.status_code == 403, response.content
    assert error_of(response)["code"] == "forbidden"
    assert threats.snapshot(kind, app_id) == (events + 1, counter + 1)
    return response


def with_claims(token, **changes):
    """Return ``token`` with claims changed in its payload and its signature kept."""
    payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    text = json.dumps(claims, sort_keys=True, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(text).rstrip(b"=").decode() + "." + signature


# --- 401: no credential, or one that does not verify -------------------------------


def test_no_credential_is_401_naming_the_headers(gateway, alice_doc):
    assert_401(gateway.get(DOC), "X-Service-Token")
    assert_401(gateway.post(f"{STORE}/notes/query", {}), "ImperalCallToken")


@pytest.mark.parametrize(
    "raw", ["imp_s_not-a-token", "x", "imp_s_" + "A" * 43, "imp_s_" + "a" * 300]
)
def test_an_unknown_service_token_is_401(gateway, alice_doc, raw, tokens_seen):
    tokens_seen.append(raw)
    response = gateway.get(DOC, token=raw, x_acting_user="alice")
    assert_401(response, "unknown service token")
    assert raw not in gateway.bodies()


def test_a_revoked_token_is_401(gateway, alice_token, alice_doc, tokens_seen):
    tokens_seen.append(alice_token)
    assert gateway.get(DOC, token=alice_token).status_code == 200
    ServiceToken.objects.update(revoked_at="2026-01-01T00:00:00Z")
    assert_401(gateway.get(DOC, token=alice_token), "was revoked")
    assert alice_token not in gateway.bodies()


def test_a_rotated_out_token_works_for_its_grace_period_then_is_401(
    gateway, issue, settings, alice_doc, tokens_seen
):
    settings.IMPERAL_TOKEN_ROTATION_GRACE = 1
    old = issue(user_id="alice")
    new = issue(user_id="alice", rotate=True)
    tokens_seen += [old, new]
    assert gateway.get(DOC, token=old).status_code == 200  # within the grace period
    time.sleep(1.2)
    assert_401(gateway.get(DOC, token=old), "rotated out")
    assert gateway.get(DOC, token=new).status_code == 200
    assert old not in gateway.bodies() and new not in gateway.bodies()


@pytest.mark.parametrize(
    "mangle, reason",
    [
        (lambda t: call_token(ttl=-1), "expired"),
        (lambda t: t[:-2] + ("AA" if t[-2:] != "AA" else "BB"), "signature"),
        (lambda t: with_claims(t, exp=int(time.time()) + 120), "signature"),
        (lambda t: with_claims(t, user_id="bob"), "signature"),
        (lambda t: call_token(secret=b"another-deployment"), "signature"),
        (lambda t: t.replace(".", ""), "malformed"),
        (lambda t: t + "." * 3000, "length"),
    ],
    ids=["expired", "tampered-signature", "extended-expiry", "other-user",
         "foreign-secret", "no-dot", "oversized"],
)  # fmt: skip
def test_an_expired_or_tampered_call_token_is_401(
    gateway, registry, alice_doc, mangle, reason, tokens_seen
):
    raw = mangle(call_token())
    tokens_seen.append(raw)
    response = gateway.get(DOC, call=raw)
    assert_401(response, reason)
    assert "call token rejected" in error_of(response)["message"]
    assert raw not in gateway.bodies()


def test_a_call_token_is_reused_by_every_request_of_its_invocation(
    gateway, registry, alice_doc
):
    raw = call_token()
    for _ in range(3):  # imperal-sdk's CacheClient sends the same token each time
        assert gateway.get(DOC, call=raw).json()["data"] == {"doc_id": "d", "v": 1}


def test_a_disabled_extensions_tokens_are_refused_with_409(
    gateway, alice_token, registry, alice_doc
):
    Extension.objects.create(app_id=APP, enabled=False)
    for response in (
        gateway.get(DOC, token=alice_token),
        gateway.get(DOC, call=call_token()),
    ):
        assert response.status_code == 409
        assert error_of(response)["code"] == "extension_disabled"


# --- 403: a valid credential naming what it may not reach ---------------------------


def test_another_extensions_token_cannot_reach_this_extensions_cache(
    gateway, issue, threats, cache_prefix, tokens_seen
):
    other = issue(app_id=OTHER_APP)
    tokens_seen.append(other)
    response = assert_403(
        threats,
        "gateway_extension_mismatch",
        lambda: gateway.get(extcache("alice"), token=other),
        app_id=OTHER_APP,
    )
    assert "path app 'cache-probe'" in error_of(response)["message"]
    assert other not in gateway.bodies()


@pytest.mark.parametrize(
    "send",
    [
        lambda gw, t: gw.get(DOC, token=t, x_extension_id=APP),
        lambda gw, t: gw.get(f"{DOC}?extension_id={APP}", token=t),
        lambda gw, t: gw.post(
            STORE, {"collection": "n", "data": {}, "extension_id": APP}, token=t
        ),
    ],
    ids=["header", "query", "body"],
)
def test_another_extensions_token_naming_this_extension_is_403(
    gateway, issue, threats, alice_doc, send
):
    other = issue(app_id=OTHER_APP, user_id="alice")
    assert_403(
        threats, "gateway_extension_mismatch", lambda: send(gateway, other), OTHER_APP
    )


def test_a_body_extension_id_other_than_the_tokens_is_403_and_writes_nothing(
    gateway, alice_token, threats
):
    body = {"collection": "notes", "data": {"x": 1}, "extension_id": OTHER_APP}
    assert_403(
        threats,
        "gateway_extension_mismatch",
        lambda: gateway.post(STORE, body, token=alice_token),
    )
    assert not DocumentStore(DjangoConnection()).count(partition("alice"), "notes")


@pytest.mark.parametrize(
    "send",
    [
        lambda gw, t: gw.get(DOC, token=t, x_acting_user="bob"),
        lambda gw, t: gw.get(f"{DOC}?user_id=bob", token=t),
        lambda gw, t: gw.post(f"{STORE}/notes/query", {"user_id": "bob"}, token=t),
        lambda gw, t: gw.get(extcache("bob"), token=t),
        lambda gw, t: gw.post("/v1/internal/notify", {"user_id": "bob", "message": "m"},
                              token=t),
    ],
    ids=["x-acting-user", "query", "body", "cache-path", "notify"],
)  # fmt: skip
def test_a_user_bound_token_acting_as_someone_else_is_403(
    gateway, alice_token, threats, alice_doc, cache_prefix, send, tokens_seen
):
    tokens_seen.append(alice_token)
    assert_403(threats, "gateway_user_mismatch", lambda: send(gateway, alice_token))
    assert alice_token not in gateway.bodies()


def test_a_call_token_acting_as_someone_else_is_403(gateway, registry, threats):
    raw = call_token(user_id="alice")
    assert_403(
        threats,
        "gateway_user_mismatch",
        lambda: gateway.get(extcache("bob"), call=raw),
    )


def test_an_extension_wide_token_naming_two_users_is_403(gateway, wide_token, threats):
    assert_403(
        threats,
        "gateway_user_mismatch",
        lambda: gateway.get(f"{DOC}?user_id=bob", token=wide_token, x_acting_user="a"),
    )


def test_another_tenant_is_403(gateway, alice_token, threats, alice_doc):
    assert_403(
        threats,
        "gateway_tenant_mismatch",
        lambda: gateway.get(DOC, token=alice_token, x_tenant_id="acme"),
    )


@pytest.mark.parametrize("route, kind", [
    ("list_users?cursor=0&limit=10", "list_users_from_user_context"),
    ("all?limit=10", "query_all_from_user_context"),
])  # fmt: skip
@pytest.mark.parametrize("credential", ["user-bound", "wide-as-alice", "call-token"])
def test_a_non_system_identity_on_a_system_route_is_403(
    gateway, issue, registry, threats, alice_doc, route, kind, credential
):
    path = f"{STORE}/notes/{route}"
    send = {
        "user-bound": lambda: gateway.get(path, token=issue(user_id="alice")),
        "wide-as-alice": lambda: gateway.get(
            path, token=issue(), x_acting_user="alice"
        ),
        "call-token": lambda: gateway.get(path, call=call_token()),
    }[credential]
    response = assert_403(threats, kind, send)
    assert "requires system context" in error_of(response)["message"]


@pytest.mark.parametrize("route", ["list_users?cursor=0", "all"])
def test_the_system_identity_may_use_the_system_routes(
    gateway, issue, registry, alice_doc, route
):
    path = f"{STORE}/notes/{route}"
    for response in (
        gateway.get(path, token=issue(user_id="__system__")),
        gateway.get(path, call=call_token(user_id="__system__")),
    ):
        assert response.status_code == 200, response.content


def test_an_extension_wide_token_naming_no_user_is_400(gateway, wide_token):
    response = gateway.get(DOC, token=wide_token)
    assert response.status_code == 400
    assert "X-Acting-User" in error_of(response)["message"]


def test_every_credential_reaches_what_it_may(gateway, issue, registry, alice_doc):
    """The positive control of the matrix: each refusal above is about its mismatch."""
    for response in (
        gateway.get(DOC, token=issue(user_id="alice")),
        gateway.get(DOC, token=issue(), x_acting_user="alice"),
        gateway.get(f"{DOC}?user_id=alice", token=issue()),
        gateway.get(DOC, call=call_token()),
        gateway.get(DOC, token=issue(user_id="alice"), x_extension_id=APP,
                    x_tenant_id="default", x_acting_user="alice"),
    ):  # fmt: skip
        assert response.status_code == 200, response.content
