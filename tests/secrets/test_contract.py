"""imperal-sdk's ctx.secrets contract through the kernel: scopes, write modes, the size cap,
isolation between users and extensions; every refusal leaves the vault as it was."""

import pytest
from asgiref.sync import async_to_sync
from imperal_sdk.secrets import (
    SecretNotDeclaredError,
    SecretStatus,
    SecretValueTooLarge,
    SecretWriteForbidden,
)

from apps.accounts.models import SecurityEvent
from apps.common import statements
from apps.extensions.context import IdentityFixed
from apps.extensions.errors import HandlerFailed
from apps.secrets.keys import keyring
from apps.secrets.models import APP_OWNER, SecretAccess, SecretValue
from apps.secrets.plaintext import SecretText

from .conftest import (
    PROBE,
    REQUIRED,
    as_operator,
    as_user,
    call,
    ctx_of,
)

pytestmark = pytest.mark.django_db

TOKEN = "sk-live-4f7a1c9e2b"


def raised(tool, user="alice", **params):
    """Return what the tool raised when run through the kernel."""
    with pytest.raises(HandlerFailed) as failed:
        call(tool, user, **params)
    return failed.value.exc


def vault():
    """Return the stored rows as comparable tuples (never the plaintext: there is none)."""
    return sorted(
        SecretValue.objects.values_list(
            "app_id", "user_id", "scope", "name", "key_id", "ciphertext"
        )
    )


def test_a_users_secret_reaches_the_tool_and_is_stored_sealed(vault_extensions, alice):
    as_user("api_key", TOKEN)

    assert call("read", name="api_key") == {"value": TOKEN}
    row = SecretValue.objects.get()
    assert (row.tenant_id, row.app_id, row.user_id, row.scope, row.name) == (
        "default",
        PROBE,
        "alice",
        "user",
        "api_key",
    )
    assert TOKEN.encode() not in bytes(row.ciphertext)
    assert row.key_id == keyring().newest.id
    assert list(
        SecretAccess.objects.order_by("id").values_list("action", "actor", "actor_name")
    ) == [("write", "user", "alice"), ("read", "extension", "alice")]


def test_an_unset_secret_reads_none_and_is_not_set(vault_extensions, alice):
    assert call("read", name="api_key") == {"value": None}
    assert call("check", name="api_key") == {"is_set": False}
    as_user("api_key", TOKEN)
    assert call("check", name="api_key") == {"is_set": True}


def test_a_name_the_extension_does_not_declare_is_refused(vault_extensions, alice):
    as_user("api_key", TOKEN)
    before = vault()
    for tool, params in (("read", {}), ("write", {"value": "x"}), ("remove", {})):
        error = raised(tool, name="api_keys", **params)
        assert isinstance(error, SecretNotDeclaredError)
        assert "declares no secret 'api_keys'" in str(error)
        assert "api_key, client_secret, fallback_secret, note, refresh_token" in str(
            error
        )
    assert vault() == before


def test_write_mode_user_is_written_by_the_user_only(vault_extensions, alice):
    as_user("api_key", TOKEN)
    before = vault()

    for tool, params in (("write", {"value": "forged"}), ("remove", {})):
        error = raised(tool, name="api_key", **params)
        assert isinstance(error, SecretWriteForbidden)
        assert "write_mode='user'" in str(error)
        assert "PUT /api/v1/me/secrets/vault-probe/api_key" in str(error)
    assert vault() == before
    assert call("read", name="api_key") == {"value": TOKEN}


def test_write_mode_extension_is_written_by_the_extension_only(vault_extensions, alice):
    with pytest.raises(SecretWriteForbidden, match="only the extension sets it"):
        as_user("refresh_token", "from-the-user")
    assert vault() == []

    assert call("write", name="refresh_token", value=TOKEN) == {
        "written": "refresh_token"
    }
    assert call("read", name="refresh_token") == {"value": TOKEN}
    assert call("remove", name="refresh_token") == {"was_set": True}
    assert call("remove", name="refresh_token") == {"was_set": False}
    assert vault() == []


def test_write_mode_both_is_written_by_either(vault_extensions, alice):
    as_user("note", "from alice")
    assert call("read", name="note") == {"value": "from alice"}
    call("write", name="note", value="from the ext")
    assert call("read", name="note") == {"value": "from the ext"}
    assert SecretValue.objects.get().updated_by == "extension alice"  # in her call


def test_an_app_secret_is_shared_by_the_tenants_users_and_set_by_operators_only(
    vault_extensions, alice, bob
):
    error = raised("write", name="client_secret", value="forged")
    assert isinstance(error, SecretWriteForbidden)
    assert "only an operator sets it" in str(error)
    with pytest.raises(SecretWriteForbidden, match="scope='app'"):
        as_user("client_secret", "forged")
    assert vault() == []

    as_operator("client_secret", TOKEN)

    assert call("read", name="client_secret") == {"value": TOKEN}
    assert call("read", "bob", name="client_secret") == {"value": TOKEN}
    row = SecretValue.objects.get()
    assert (row.user_id, row.scope, row.updated_by) == (
        APP_OWNER,
        "app",
        "operator root",
    )


def test_an_app_secret_falls_back_to_its_environment_variable(
    vault_extensions, alice, monkeypatch
):
    variable = "IMPERAL_APPSECRET_VAULT_PROBE_FALLBACK"
    monkeypatch.delenv(variable, raising=False)
    assert call("check", name="fallback_secret") == {"is_set": False}

    monkeypatch.setenv(variable, "from-the-environment")
    assert call("read", name="fallback_secret") == {"value": "from-the-environment"}
    assert call("check", name="fallback_secret") == {"is_set": True}

    as_operator("fallback_secret", "from-the-admin")
    assert call("read", name="fallback_secret") == {"value": "from-the-admin"}


def test_the_size_cap_counts_utf8_bytes_and_a_refusal_keeps_the_value(
    vault_extensions, alice
):
    as_user("note", "é" * 8)  # 16 bytes: max_bytes
    before = vault()

    error = raised("write", name="note", value="é" * 9)

    assert isinstance(error, SecretValueTooLarge)
    assert str(error) == (
        "secrets: the value of 'note' is 18 bytes of UTF-8; secret 'note' of "
        "extension 'vault-probe' holds at most 16 (max_bytes)"
    )
    assert "é" not in str(error)
    assert vault() == before
    assert call("read", name="note") == {"value": "é" * 8}


def test_a_value_is_text_and_a_refusal_never_quotes_it(vault_extensions, alice):
    ctx = ctx_of(vault_extensions)
    with pytest.raises(TypeError, match="must be a str, got bytes"):
        async_to_sync(ctx.secrets.set)("note", b"bytes")
    with pytest.raises(ValueError, match="lone surrogate at position 3") as bad:
        async_to_sync(ctx.secrets.set)("note", "abc\ud800")
    assert "abc" not in str(bad.value)
    assert vault() == []


@pytest.mark.django_db(transaction=True)
def test_users_never_reach_each_others_secrets(vault_extensions, alice, bob, charlie):
    as_user("api_key", TOKEN)
    as_user("note", "bob's", user="bob")

    assert call("read", "bob", name="api_key") == {"value": None}
    assert call("read", "charlie", name="note") == {"value": None}
    statuses = call("listing", "charlie")["secrets"]
    assert not any(s["is_set"] for s in statuses if s["name"] in ("api_key", "note"))

    error = raised("read_for", "charlie", user_id="alice", name="api_key")
    assert isinstance(error, RuntimeError)
    assert "requires system context" in str(error)
    event = SecurityEvent.objects.get()
    assert (event.kind, event.user_id, event.app_id) == (
        "secrets_for_user_from_user_context",
        "charlie",
        PROBE,
    )
    assert TOKEN not in str(error) and TOKEN not in str(event.detail)


def test_extensions_never_reach_each_others_secrets(vault_extensions, alice):
    as_user("api_key", TOKEN)

    other = ctx_of(vault_extensions, app=REQUIRED)

    assert async_to_sync(other.secrets.get)("api_key") is None
    async_to_sync(other.secrets.set)("api_key", "theirs")
    assert call("read", name="api_key") == {"value": TOKEN}
    assert async_to_sync(other.secrets.get)("api_key") == "theirs"


def test_the_system_context_reaches_a_users_secret_through_as_user(
    vault_extensions, alice
):
    as_user("api_key", TOKEN)
    as_operator("client_secret", "shared")
    system = ctx_of(vault_extensions, "__system__")

    with pytest.raises(ValueError, match=r"per-user secret .* ctx.as_user\(uid\)"):
        async_to_sync(system.secrets.get)("api_key")
    assert async_to_sync(system.secrets.get)("client_secret") == "shared"
    assert async_to_sync(system.as_user("alice").secrets.get)("api_key") == TOKEN
    assert async_to_sync(system.secrets.for_user("alice").get)("api_key") == TOKEN
    listed = async_to_sync(system.secrets.list)()
    assert [s.name for s in listed] == ["client_secret", "fallback_secret"]


def test_list_answers_the_sdks_statuses_in_declaration_order(vault_extensions, alice):
    as_user("api_key", TOKEN)
    ctx = ctx_of(vault_extensions)
    assert async_to_sync(ctx.secrets.get)("api_key") == TOKEN

    listed = async_to_sync(ctx.secrets.list)()

    assert all(type(s) is SecretStatus for s in listed)
    assert [(s.name, s.is_set) for s in listed] == [
        ("api_key", True),
        ("refresh_token", False),
        ("note", False),
        ("client_secret", False),
        ("fallback_secret", False),
    ]
    read_at = SecretValue.objects.get().last_read_at
    assert listed[0].last_accessed_at == int(read_at.timestamp())
    assert listed[1].last_accessed_at is None
    assert TOKEN not in repr(listed)


def test_reads_are_audited_once_per_interval_and_writes_always(
    vault_extensions, alice, settings
):
    as_user("api_key", TOKEN)
    for _ in range(3):
        call("read", name="api_key")
    reads = SecretAccess.objects.filter(action="read")
    assert reads.count() == 1

    settings.IMPERAL_SECRETS_READ_AUDIT_INTERVAL = 0
    call("read", name="api_key")
    call("read", name="api_key")
    assert reads.count() == 3
    as_user("api_key", "second")
    assert SecretAccess.objects.filter(action="write").count() == 2
    for entry in SecretAccess.objects.values():
        assert TOKEN not in str(entry) and "second" not in str(entry)


def test_the_value_a_tool_gets_hides_itself_from_reprs(vault_extensions, alice):
    as_user("api_key", TOKEN)
    value = async_to_sync(ctx_of(vault_extensions).secrets.get)("api_key")
    assert isinstance(value, SecretText) and isinstance(value, str)
    assert value == TOKEN and f"Bearer {value}" == f"Bearer {TOKEN}"
    assert TOKEN not in repr(value) and TOKEN not in repr({"token": value})


def test_a_handler_cannot_swap_its_ctx_secrets(vault_extensions, alice):
    ctx = ctx_of(vault_extensions)
    with pytest.raises(IdentityFixed, match="ctx.secrets is fixed"):
        ctx.secrets = ctx_of(vault_extensions, app=REQUIRED).secrets


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_reads_on_the_async_pool_answer_as_on_djangos_connection(
    vault_extensions, alice, bob, settings
):
    as_user("api_key", TOKEN)
    settings.IMPERAL_STORE_ASYNC_POOL = 2
    try:
        ctx = ctx_of(vault_extensions)
        assert async_to_sync(ctx.secrets.get)("api_key") == TOKEN
        assert async_to_sync(ctx.secrets.get)("note") is None
        assert (
            async_to_sync(ctx_of(vault_extensions, "bob").secrets.get)("api_key")
            is None
        )
        assert async_to_sync(ctx.secrets.get)("api_key") == TOKEN
    finally:
        statements.close_pool()
    reads = SecretAccess.objects.filter(action="read")
    assert list(reads.values_list("user_id", "actor_name")) == [("alice", "alice")]
    assert SecretValue.objects.get().last_read_at is not None
