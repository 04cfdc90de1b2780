"""Values sealed at rest: bound to their row, opened by any configured key, moved to the
newest by manage.py reencrypt_secrets; one that cannot be opened is unavailable, not a crash."""

import base64
import io
import json
import os

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from imperal_sdk.secrets import SecretVaultUnavailable
from prometheus_client import REGISTRY

from apps.accounts.models import SecurityEvent
from apps.common.errors import http_status
from apps.extensions.errors import HandlerFailed
from apps.secrets.keys import Key, derived_material, keyring
from apps.secrets.models import SecretValue

from .conftest import PROBE, as_operator, as_user, call

pytestmark = pytest.mark.django_db

TOKEN = "sk-live-9d2e7b41aa"
OLD = base64.urlsafe_b64encode(os.urandom(32)).decode()
NEW = base64.urlsafe_b64encode(os.urandom(32)).decode()


def unavailable(tool="read", user="alice", **params):
    with pytest.raises(HandlerFailed) as failed:
        call(tool, user, **params)
    error = failed.value.exc
    assert isinstance(error, SecretVaultUnavailable)
    assert failed.value.code == "unavailable" and http_status(failed.value) == 503
    return error


def unopened(reason):
    value = REGISTRY.get_sample_value(
        "imperal_secrets_unopened_total", {"app_id": PROBE, "reason": reason}
    )
    return value or 0


def reencrypt(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("reencrypt_secrets", *args, stdout=out, stderr=err)
    return json.loads(out.getvalue()), err.getvalue()


def key_ids():
    return set(SecretValue.objects.values_list("key_id", flat=True))


@pytest.mark.django_db(transaction=True)
def test_a_value_copied_to_another_row_does_not_open_there(
    vault_extensions, alice, bob
):
    as_user("api_key", TOKEN)
    as_user("note", "bob's note", user="bob")
    stolen = SecretValue.objects.get(user_id="alice")
    before = unopened("integrity")
    SecretValue.objects.filter(user_id="bob").update(
        ciphertext=stolen.ciphertext, key_id=stolen.key_id
    )
    SecretValue.objects.create(
        **{f: getattr(stolen, f) for f in ("tenant_id", "app_id", "scope", "name")},
        user_id="bob",
        ciphertext=stolen.ciphertext,
        key_id=stolen.key_id,
        created_at=stolen.created_at,
        updated_at=stolen.updated_at,
        updated_by="someone with database access",
    )

    for name in ("api_key", "note"):
        error = unavailable(user="bob", name=name)
        assert "failed its integrity check" in str(error)
        assert TOKEN not in str(error)
    assert unopened("integrity") == before + 2
    event = SecurityEvent.objects.get()
    assert (event.kind, event.user_id, event.count) == (
        "secret_integrity_failure",
        "bob",
        2,
    )
    assert call("read", name="api_key") == {"value": TOKEN}  # alice's still opens


def test_a_value_altered_in_the_database_does_not_open(vault_extensions, alice):
    as_user("api_key", TOKEN)
    row = SecretValue.objects.get()
    altered = bytearray(row.ciphertext)
    altered[-1] ^= 1
    SecretValue.objects.filter(pk=row.pk).update(ciphertext=bytes(altered))

    assert "integrity" in str(unavailable(name="api_key"))


def test_a_rotation_keeps_every_value_readable_and_frees_the_old_key(
    vault_extensions, alice, bob, settings
):
    settings.IMPERAL_SECRETS_KEYS = [OLD]
    old_id = keyring().newest.id
    as_user("api_key", TOKEN)
    as_user("note", "bob's", user="bob")
    as_operator("client_secret", "shared-secret")
    assert key_ids() == {old_id}

    settings.IMPERAL_SECRETS_KEYS = [NEW, OLD]
    new_id = keyring().newest.id
    assert call("read", name="api_key") == {"value": TOKEN}  # the old key still opens
    as_user("note", "alice's")  # new writes use the new key
    assert key_ids() == {old_id, new_id}

    done, progress = reencrypt("--batch", "2")

    assert done == {
        "newest_key": new_id,
        "pending": 3,
        "reencrypted": 3,
        "unopened": 0,
        "changed_meanwhile": 0,
    }
    assert progress.splitlines() == [
        "reencrypt_secrets: 2/3 values",
        "reencrypt_secrets: 3/3 values",
    ]
    assert key_ids() == {new_id}
    settings.IMPERAL_SECRETS_KEYS = [NEW]
    assert call("read", name="api_key") == {"value": TOKEN}
    assert call("read", "bob", name="note") == {"value": "bob's"}
    assert call("read", "bob", name="client_secret") == {"value": "shared-secret"}
    assert reencrypt()[0]["pending"] == 0  # nothing left: running it again is a no-op
    assert TOKEN not in progress


def test_the_default_key_comes_from_secret_key_and_can_be_rotated_away(
    vault_extensions, alice, settings
):
    settings.IMPERAL_SECRETS_KEYS = []
    as_user("api_key", TOKEN)
    derived = keyring().newest.id
    assert derived == Key.from_material(derived_material(settings.SECRET_KEY)).id
    assert key_ids() == {derived}

    settings.IMPERAL_SECRETS_KEYS = [NEW, "SECRET_KEY"]
    assert keyring().by_id.keys() >= {derived}
    reencrypt()
    settings.IMPERAL_SECRETS_KEYS = [NEW]

    assert call("read", name="api_key") == {"value": TOKEN}
    assert derived not in key_ids()


def test_a_value_under_a_key_no_longer_configured_is_unavailable_not_a_crash(
    vault_extensions, alice, settings
):
    settings.IMPERAL_SECRETS_KEYS = [OLD]
    as_user("api_key", TOKEN)
    old_id = keyring().newest.id
    settings.IMPERAL_SECRETS_KEYS = [NEW]
    before = unopened("unknown_key")

    error = unavailable(name="api_key")

    assert str(error) == (
        f"secrets: the value of 'api_key' was sealed under key {old_id}, which "
        "IMPERAL_SECRETS_KEYS does not hold: the operator must restore that key "
        "(then run manage.py reencrypt_secrets)"
    )
    assert unopened("unknown_key") == before + 1
    assert call("check", name="api_key") == {"is_set": True}
    row = SecretValue.objects.get()
    with pytest.raises(CommandError, match="1 value\\(s\\) could not be opened"):
        reencrypt()
    assert (SecretValue.objects.get().key_id, SecretValue.objects.get().ciphertext) == (
        old_id,
        row.ciphertext,
    )


@pytest.mark.parametrize(
    "configured",
    [["not-a-key"], [NEW, base64.urlsafe_b64encode(b"16 bytes, no more").decode()]],
)
def test_a_malformed_key_is_refused_naming_its_entry_not_its_value(
    settings, configured
):
    settings.IMPERAL_SECRETS_KEYS = configured
    with pytest.raises(ImproperlyConfigured) as refused:
        keyring()
    position = len(configured)
    assert f"IMPERAL_SECRETS_KEYS: entry {position} of {position}" in str(refused.value)
    assert configured[-1] not in str(refused.value)
    assert "URL-safe base64" in str(refused.value)


def test_the_command_refuses_a_batch_out_of_range():
    with pytest.raises(CommandError, match="--batch must be 1-10000, got 0"):
        reencrypt("--batch", "0")
