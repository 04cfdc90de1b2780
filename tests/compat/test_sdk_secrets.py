"""imperal-sdk 6.3.7's own SecretClient against the production server (scripts/serve.sh) on
a loopback port: it reads and writes the values ctx.secrets does, under the same rules;
only a credential bound to the user reaches them; values sealed under a key the server
no longer holds are SecretVaultUnavailable; no value reaches the server's log."""

import base64
import os

import httpx
import pytest
from asgiref.sync import async_to_sync
from imperal_sdk.secrets import (
    SecretClient,
    SecretValueTooLarge,
    SecretVaultUnavailable,
    SecretWriteForbidden,
)

from apps.accounts.models import SecurityEvent
from apps.extensions.sync import sync_extensions
from apps.gateway.tokens import issue_token
from apps.secrets.models import SecretValue
from apps.secrets.rotation import reencrypt
from tests.gateway.conftest import call_token
from tests.secrets.conftest import (
    ENTRIES,
    PROBE,
    REQUIRED,
    as_operator,
    as_user,
    ctx_of,
)

from .server import LiveServer

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
OLD = base64.urlsafe_b64encode(os.urandom(32)).decode()
NEW = base64.urlsafe_b64encode(os.urandom(32)).decode()
LOST = base64.urlsafe_b64encode(os.urandom(32)).decode()
KEYS = [NEW, OLD]
TOKEN = "sk-wire-3c8f0d9b71e2"
WRITTEN = "refresh-wire-77aa01"
# Every value a test stores: none may appear in the server's log.
VALUES = (TOKEN, WRITTEN, "bob-wire-secret", "sealed-under-old", "note-wire")


def start(tmp_path_factory, keys):
    live = LiveServer(
        tmp_path_factory.mktemp("secrets"),
        extensions=",".join(ENTRIES),
        env={"IMPERAL_SECRETS_KEYS": ",".join(keys)},
    )
    live.tokens = []
    return live.start()


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker, tmp_path_factory):
    live = start(tmp_path_factory, KEYS)
    yield live
    live.stop()
    log = live.log()
    assert "/v1/secrets/vault-probe/api_key" in log  # the log is the server's own
    for secret in (*VALUES, *live.tokens):
        assert secret not in log


@pytest.fixture
def registry(use_extensions, settings):
    settings.IMPERAL_SECRETS_KEYS = KEYS  # the server's keys, in this process too
    registry = use_extensions(*ENTRIES)
    sync_extensions(registry)
    return registry


def client(server, registry, user_id, token, app=PROBE):
    """imperal-sdk's SecretClient for ``user_id``, pointed at the live server."""
    server.tokens.append(token)
    return SecretClient(
        ext_id=app,
        imperal_id=user_id,
        auth_gw_base=server.url,
        session_token=token,
        declared=registry.get(app).ext.secrets,
    )


def run(coroutine_function, *args):
    return async_to_sync(coroutine_function)(*args)


def raw(server, method, path, token, body=None, **headers):
    """Send one request as the SDK does (Bearer, X-Acting-User, X-Ext-Id)."""
    server.tokens.append(token)
    headers = {"Authorization": f"Bearer {token}", **headers}
    with httpx.Client(base_url=server.url, timeout=30) as http:
        return http.request(method, path, json=body, headers=headers)


async def scenario(secrets):
    """Every SecretClient operation; return what each answered."""
    seen = {"get": await secrets.get("api_key"), "get-unset": await secrets.get("note")}
    seen["is_set"] = (await secrets.is_set("api_key"), await secrets.is_set("note"))
    await secrets.set("note", "note-wire")
    seen["after-set"] = await secrets.get("note")
    seen["delete"] = (await secrets.delete("note"), await secrets.delete("note"))
    seen["list"] = [(s.name, s.is_set) for s in await secrets.list()]
    return seen


def test_the_sdks_secret_client_answers_as_ctx_secrets(
    server, registry, alice, charlie
):
    as_user("api_key", TOKEN)
    as_user("api_key", TOKEN, user="charlie")

    with_call_token = run(
        scenario, client(server, registry, "alice", call_token(PROBE))
    )
    bound = issue_token(PROBE, user_id="charlie").raw
    with_bound_token = run(scenario, client(server, registry, "charlie", bound))
    in_process = run(scenario, ctx_of(registry, "alice").secrets)

    assert with_call_token == with_bound_token == in_process
    assert with_call_token["get"] == TOKEN
    assert with_call_token["get-unset"] is None
    assert with_call_token["is_set"] == (True, False)
    assert with_call_token["after-set"] == "note-wire"
    assert with_call_token["delete"] == (True, False)
    assert with_call_token["list"][:3] == [
        ("api_key", True),
        ("refresh_token", False),
        ("note", False),
    ]


def test_a_value_written_over_the_wire_is_the_one_ctx_reads(server, registry, alice):
    secrets = client(server, registry, "alice", call_token(PROBE))

    run(secrets.set, "refresh_token", WRITTEN)

    ctx = ctx_of(registry, "alice")
    assert run(ctx.secrets.get, "refresh_token") == WRITTEN
    row = SecretValue.objects.get(name="refresh_token")
    assert row.updated_by.startswith("gateway call token ")
    assert row.updated_by.endswith(" for alice")
    assert WRITTEN.encode() not in bytes(row.ciphertext)


def test_the_server_enforces_write_mode_scope_and_size_itself(server, registry, alice):
    as_user("api_key", TOKEN)
    token = call_token(PROBE)
    secrets = client(server, registry, "alice", token)
    with pytest.raises(SecretWriteForbidden):
        run(secrets.set, "api_key", "forged")  # the SDK checks first
    with pytest.raises(SecretValueTooLarge):
        run(secrets.set, "note", "x" * 17)
    before = sorted(SecretValue.objects.values_list("name", "key_id", "ciphertext"))

    # The server does not rely on the client's checks.
    for name, body, status, code in [
        ("api_key", {"value": "forged"}, 403, "forbidden"),
        ("client_secret", {"value": "forged"}, 403, "forbidden"),
        ("note", {"value": "x" * 17}, 413, "payload_too_large"),
        ("nope", {"value": "x"}, 404, "not_found"),
        ("note", {"value": 7}, 400, "invalid_argument"),
    ]:  # fmt: skip
        answer = raw(server, "PUT", f"/v1/secrets/{PROBE}/{name}", token, body)
        assert answer.status_code == status, (name, answer.text)
        assert answer.json()["error"]["code"] == code
        assert "forged" not in answer.text and "x" * 17 not in answer.text
    assert raw(server, "DELETE", f"/v1/secrets/{PROBE}/api_key", token).status_code == (
        403
    )
    after = sorted(SecretValue.objects.values_list("name", "key_id", "ciphertext"))
    assert after == before


def test_an_app_secret_is_read_by_every_user_over_the_wire(
    server, registry, alice, bob
):
    as_operator("client_secret", TOKEN)
    for user in ("alice", "bob"):
        secrets = client(server, registry, user, call_token(PROBE, user))
        assert run(secrets.get, "client_secret") == TOKEN


def test_an_outsider_reaches_no_one_elses_secret_by_any_route(
    server, registry, alice, bob
):
    as_user("api_key", TOKEN)
    as_user("note", "bob-wire-secret", user="bob")
    bobs = call_token(PROBE, "bob")
    wide = issue_token(PROBE).raw
    other_extension = call_token(REQUIRED, "alice")
    before = sorted(SecretValue.objects.values_list("user_id", "name", "ciphertext"))

    attempts = [
        ("bob's token acting for alice", bobs, {"X-Acting-User": "alice"}, PROBE),
        ("an extension-wide token", wide, {"X-Acting-User": "alice"}, PROBE),
        ("another extension's token", other_extension, {}, PROBE),
        ("a mismatched X-Ext-Id", call_token(PROBE), {"X-Ext-Id": REQUIRED}, PROBE),
    ]
    for label, token, headers, app in attempts:
        for method, path, body in [
            ("GET", f"/v1/secrets/{app}/api_key", None),
            ("GET", f"/v1/secrets/{app}/api_key/meta", None),
            ("GET", f"/v1/secrets/{app}", None),
            ("PUT", f"/v1/secrets/{app}/note", {"value": "overwritten"}),
            ("DELETE", f"/v1/secrets/{app}/note", None),
        ]:
            answer = raw(server, method, path, token, body, **headers)
            assert answer.status_code == 403, (label, method, path, answer.text)
            assert answer.json()["error"]["code"] == "forbidden"
            assert TOKEN not in answer.text
    sdk_as_alice = client(server, registry, "bob", bobs).for_user("alice")
    with pytest.raises(RuntimeError, match="status 403"):
        run(sdk_as_alice.get, "api_key")

    kinds = set(SecurityEvent.objects.values_list("kind", flat=True))
    assert {
        "gateway_user_mismatch",
        "gateway_secrets_extension_wide",
        "gateway_extension_mismatch",
    } <= kinds
    after = sorted(SecretValue.objects.values_list("user_id", "name", "ciphertext"))
    assert after == before


def test_rotation_reencrypts_and_the_old_key_can_go(
    server, registry, alice, settings, tmp_path_factory
):
    settings.IMPERAL_SECRETS_KEYS = [OLD]
    as_user("api_key", TOKEN)
    settings.IMPERAL_SECRETS_KEYS = [LOST]  # a key no server here holds
    as_user("note", "sealed-under-old")
    settings.IMPERAL_SECRETS_KEYS = KEYS
    secrets = client(server, registry, "alice", call_token(PROBE))
    assert run(secrets.get, "api_key") == TOKEN  # the server's older key opens it

    done = reencrypt()
    assert (done.reencrypted, done.unopened) == (1, 1)

    rotated = start(tmp_path_factory, [NEW])
    try:
        secrets = client(rotated, registry, "alice", call_token(PROBE))
        assert run(secrets.get, "api_key") == TOKEN
        with pytest.raises(SecretVaultUnavailable):
            run(secrets.get, "note")
        answer = raw(rotated, "GET", f"/v1/secrets/{PROBE}/note", call_token(PROBE))
        assert answer.status_code == 503
        assert answer.json()["error"]["code"] == "unavailable"
        assert "does not hold" in answer.json()["error"]["message"]
    finally:
        rotated.stop()
    log = rotated.log()
    assert "IMPERAL_SECRETS_KEYS no longer holds" in log
    for secret in VALUES:
        assert secret not in log
