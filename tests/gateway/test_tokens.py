"""Service tokens: issued by `manage.py ext token` and the admin, stored hashed, shown
once, rotated with a grace period, revoked; never shown again anywhere."""

import datetime
import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone

from apps.accounts.models import hash_token
from apps.gateway.models import ServiceToken

from .conftest import APP, OTHER_APP

pytestmark = pytest.mark.django_db
DOC = "/v1/internal/store/notes/d"


def ext_token(*args):
    out = io.StringIO()
    call_command("ext", "token", *args, stdout=out)
    return json.loads(out.getvalue())


def test_ext_token_prints_the_raw_token_once_and_stores_its_hash(registry):
    printed = ext_token(APP)
    raw = printed["token"]
    assert raw.startswith("imp_s_") and len(raw) == len("imp_s_") + 43
    row = ServiceToken.objects.get()
    assert row.token_hash == hash_token(raw)
    assert (row.app_id, row.user_id, row.tenant_id) == (APP, "", "default")
    assert printed["prefix"] == row.display_prefix == raw[:12]
    stored_text = json.dumps(list(ServiceToken.objects.values()), default=str)
    assert raw not in stored_text


def test_ext_token_binds_a_user_and_a_tenant(registry):
    printed = ext_token(APP, "--user", "alice", "--tenant", "acme")
    assert (printed["user_id"], printed["tenant_id"]) == ("alice", "acme")
    assert ServiceToken.objects.get().user_id == "alice"


def test_rotate_gives_the_previous_tokens_of_that_identity_a_grace_period(
    registry, settings
):
    settings.IMPERAL_TOKEN_ROTATION_GRACE = 600
    first = ext_token(APP, "--user", "alice")
    other_user = ext_token(APP, "--user", "bob")
    before = timezone.now()
    rotated = ext_token(APP, "--user", "alice", "--rotate")
    assert [r["prefix"] for r in rotated["retired"]] == [first["prefix"]]
    old = ServiceToken.objects.get(display_prefix=first["prefix"])
    expected = before + datetime.timedelta(seconds=600)
    assert abs((old.expires_at - expected).total_seconds()) < 5
    assert (
        ServiceToken.objects.get(display_prefix=other_user["prefix"]).expires_at is None
    )
    assert ServiceToken.objects.get(display_prefix=rotated["prefix"]).expires_at is None


def test_rotating_again_never_extends_a_grace_period(registry, settings):
    settings.IMPERAL_TOKEN_ROTATION_GRACE = 600
    first = ext_token(APP)
    ext_token(APP, "--rotate")
    deadline = ServiceToken.objects.get(display_prefix=first["prefix"]).expires_at
    ext_token(APP, "--rotate")
    assert (
        ServiceToken.objects.get(display_prefix=first["prefix"]).expires_at == deadline
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (("no-such-app",), "unknown extension 'no-such-app'"),
        ((APP, "--user", "two words"), "user_id: a user id is a string of 1-128"),
        ((APP, "--tenant", ""), "tenant_id must be a non-empty string"),
    ],
)
def test_ext_token_refuses_bad_input_and_stores_nothing(registry, args, message):
    with pytest.raises(CommandError, match=message) as caught:
        ext_token(*args)
    assert caught.value.returncode == 2
    assert not ServiceToken.objects.exists()


def test_a_token_bound_to_a_user_is_issued_in_the_users_tenant(registry, alice):
    with pytest.raises(CommandError, match="belongs to tenant 'default', not 'acme'"):
        ext_token(APP, "--user", "alice", "--tenant", "acme")
    assert not ServiceToken.objects.exists()
    assert ext_token(APP, "--user", "alice")["tenant_id"] == "default"
    assert ext_token(APP, "--tenant", "acme")["tenant_id"] == "acme"  # extension-wide


def test_a_token_records_its_last_use(gateway, registry):
    raw = ext_token(APP, "--user", "alice")["token"]
    assert ServiceToken.objects.get().last_used_at is None
    gateway.get(DOC, token=raw)
    assert ServiceToken.objects.get().last_used_at is not None


# --- the admin ---------------------------------------------------------------------


@pytest.fixture
def operator(admin_client, registry):
    return admin_client


def test_the_admin_lists_prefixes_and_never_a_hash(operator):
    raw = ext_token(APP, "--user", "alice")["token"]
    row = ServiceToken.objects.get()
    pages = [
        operator.get(reverse("admin:gateway_servicetoken_changelist")),
        operator.get(reverse("admin:gateway_servicetoken_change", args=[row.pk])),
    ]
    for page in pages:
        text = page.content.decode()
        assert page.status_code == 200
        assert row.display_prefix in text
        assert row.token_hash not in text and raw not in text


def test_the_admin_issues_a_token_and_shows_it_once(operator):
    response = operator.post(
        reverse("admin:gateway_servicetoken_add"),
        {"app_id": APP, "tenant_id": "default", "user_id": "alice"},
        follow=True,
    )
    row = ServiceToken.objects.get()
    text = response.content.decode()
    shown = [w for w in text.split() if w.startswith("imp_s_") and "…" not in w]
    assert [hash_token(word) for word in shown] == [row.token_hash]
    again = operator.get(reverse("admin:gateway_servicetoken_changelist"))
    assert shown[0] not in again.content.decode()


def test_the_admin_refuses_a_token_for_an_unknown_extension(operator):
    response = operator.post(
        reverse("admin:gateway_servicetoken_add"),
        {"app_id": "nope", "tenant_id": "default", "user_id": ""},
    )
    assert response.status_code == 200  # the form again, with the error
    assert "unknown extension" in response.content.decode()
    assert not ServiceToken.objects.exists()


def test_the_admin_revokes_and_rotates(operator, gateway):
    raw = ext_token(APP, "--user", "alice")["token"]
    other = ext_token(OTHER_APP)["token"]
    alice_row = ServiceToken.objects.get(app_id=APP)
    changelist = reverse("admin:gateway_servicetoken_changelist")
    response = operator.post(
        changelist,
        {"action": "issue_replacement", "_selected_action": [alice_row.pk]},
        follow=True,
    )
    assert "copy it now" in response.content.decode()
    alice_row.refresh_from_db()
    assert alice_row.expires_at is not None  # rotating: works until its grace ends
    assert ServiceToken.objects.filter(app_id=APP, expires_at=None).count() == 1
    operator.post(
        changelist, {"action": "revoke_now", "_selected_action": [alice_row.pk]}
    )
    alice_row.refresh_from_db()
    assert alice_row.revoked_at is not None
    assert gateway.get(DOC, token=raw).status_code == 401
    assert ServiceToken.objects.get(app_id=OTHER_APP).revoked_at is None
    assert other  # the other extension's token was left alone
