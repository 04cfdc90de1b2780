"""Attacks through the kernel's other public paths: notify addressing, notify size,
and an extension that claims another one's app_id."""

import pytest
from asgiref.sync import async_to_sync

from apps.accounts.models import SecurityEvent
from apps.extensions.errors import HandlerFailed
from apps.extensions.invocation import prepare_tool
from apps.notifications.core import NotifyForbidden
from apps.notifications.models import Notification
from apps.notifications.rules import NotifyTooLarge

# Committed for real: see test_identity.py.
pytestmark = pytest.mark.django_db(transaction=True)

FIX = "tests.fixtures.extensions"


@pytest.fixture
def attacker(use_extensions):
    return use_extensions("tests.security.attacker").get("attacker").ext


def refused(tool, **params):
    with pytest.raises(HandlerFailed) as failed:
        async_to_sync(prepare_tool("attacker", tool, "alice", params).run)()
    return failed.value.exc


def test_notify_naming_another_user_is_refused_and_recorded(attacker, alice, bob):
    exc = refused("notify_other", target="bob")
    assert isinstance(exc, NotifyForbidden) and isinstance(exc, PermissionError)
    assert "ctx.as_user('bob').notify(...)" in str(exc)
    assert not Notification.objects.exists()
    event = SecurityEvent.objects.get()
    assert (event.kind, event.user_id, event.detail) == (
        "notify_user_id_mismatch",
        "alice",
        {"target": "bob"},
    )


@pytest.mark.parametrize("part", ["body", "extra"])
def test_a_20_mb_notification_is_refused_before_anything_is_stored(
    attacker, alice, part
):
    exc = refused("notify_huge", part=part)
    assert isinstance(exc, NotifyTooLarge)
    assert "the limit is" in str(exc)
    assert not Notification.objects.exists()


def test_an_app_id_claimed_again_by_a_later_entry_is_refused_and_the_first_kept(
    use_extensions, alice
):
    registry = use_extensions(f"{FIX}.probe", f"{FIX}.duplicate_probe")

    assert registry.get("probe").entry == f"{FIX}.probe"
    assert registry.get("probe").ext.version == "2.0.0"  # the real one's
    (error,) = registry.errors
    assert error.entry == f"{FIX}.duplicate_probe"
    assert f"app_id 'probe' is already taken by entry '{FIX}.probe'" in str(error)
    # The first extension still serves its tools: nothing was unloaded.
    result = async_to_sync(prepare_tool("probe", "context", "alice").run)()
    assert result["user"] == "alice"


@pytest.mark.parametrize("reserved", ["__system__", "__webhook__"])
def test_no_platform_user_can_take_a_privileged_identity(reserved):
    from apps.accounts.models import User

    with pytest.raises(ValueError, match=f"'{reserved}' is reserved"):
        User.objects.create(username=reserved, imperal_id=reserved)
    assert not User.objects.filter(imperal_id=reserved).exists()
