"""ctx.notify: stored, delivered by channel, validated before any write."""

import pytest
from asgiref.sync import async_to_sync
from django.core import mail

from apps.accounts.models import SecurityEvent
from apps.common import statements
from apps.notifications.core import NotificationError, NotifyForbidden
from apps.notifications.models import Notification

pytestmark = pytest.mark.django_db


def test_notify_stores_an_in_app_notification(ctx):
    async_to_sync(ctx.notify)(
        "Report ready", priority="high", subject="Reports", ref=12
    )
    note = Notification.objects.get()
    assert (note.tenant_id, note.app_id, note.user_id) == ("default", "probe", "alice")
    assert (note.message, note.priority, note.channel) == (
        "Report ready",
        "high",
        "in_app",
    )
    assert note.subject == "Reports"
    assert note.extra == {"ref": 12}
    assert note.status == "delivered"


def test_notify_send_with_email_channel_mails_the_user(ctx):
    async_to_sync(ctx.notify.send)(
        "Your export is done", channel="email", subject="Export"
    )
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["alice@example.com"]
    assert mail.outbox[0].subject == "Export"
    assert Notification.objects.get().status == "delivered"


def test_email_to_a_user_without_an_address_is_stored_as_failed(ctx, alice):
    alice.email = ""
    alice.save()
    async_to_sync(ctx.notify)("hello", channel="email")
    note = Notification.objects.get()
    assert note.status == "failed"
    assert "no email address" in note.error
    assert mail.outbox == []


def test_a_channel_without_transport_is_stored_as_unsupported(ctx):
    async_to_sync(ctx.notify)("hello", channel="telegram")
    assert Notification.objects.get().status == "unsupported"


@pytest.mark.parametrize("channel", ["in_app", "email"])
def test_notify_with_another_users_id_is_refused_and_recorded(ctx, bob, channel):
    with pytest.raises(NotifyForbidden) as refused:
        async_to_sync(ctx.notify)("hello", user_id="bob", channel=channel)
    assert isinstance(refused.value, PermissionError)
    assert (refused.value.code, refused.value.status) == ("forbidden", 403)
    message = str(refused.value)
    assert "user_id 'bob' is not this context's user 'alice'" in message
    assert "ctx.as_user('bob').notify(...)" in message
    assert "ctx.notify.for_user('bob')" in message
    event = SecurityEvent.objects.get()
    assert (event.kind, event.user_id, event.app_id) == (
        "notify_user_id_mismatch",
        "alice",
        "probe",
    )
    assert event.detail == {"target": "bob"}
    assert Notification.objects.count() == 0
    assert mail.outbox == []


def test_notify_with_another_extensions_id_is_refused_and_recorded(ctx):
    with pytest.raises(NotifyForbidden, match="extension_id 'billing' is not this"):
        async_to_sync(ctx.notify)("hello", extension_id="billing")
    event = SecurityEvent.objects.get()
    assert (event.kind, event.user_id, event.detail) == (
        "notify_extension_id_mismatch",
        "alice",
        {"target": "billing"},
    )
    assert Notification.objects.count() == 0


@pytest.mark.parametrize(
    "identity",
    [
        {"user_id": "alice", "extension_id": "probe"},  # what NotifyClient sends
        {"user_id": ""},  # an unbound NotifyClient's user_id
        {"user_id": None, "extension_id": ""},
    ],
)
def test_notify_repeating_its_own_identity_is_sent(ctx, identity):
    async_to_sync(ctx.notify)("hello", ref=1, **identity)
    note = Notification.objects.get()
    assert (note.user_id, note.app_id) == ("alice", "probe")
    assert note.extra == {"ref": 1}  # the identity is not kept as an extra
    assert not SecurityEvent.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_async_pool_path_refuses_another_users_id_too(ctx, settings):
    settings.IMPERAL_STORE_ASYNC_POOL = 2
    try:
        with pytest.raises(NotifyForbidden):
            async_to_sync(ctx.notify)("hello", user_id="bob")
    finally:
        statements.close_pool()
    # Recorded from the writer thread, since the refusal ran inside the loop.
    assert SecurityEvent.objects.get().kind == "notify_user_id_mismatch"
    assert Notification.objects.count() == 0


@pytest.mark.parametrize("priority", list(Notification.Priority))
def test_every_priority_of_the_model_is_accepted(ctx, priority):
    async_to_sync(ctx.notify)("hello", priority=priority.value)
    assert Notification.objects.get().priority == priority


@pytest.mark.parametrize(
    "message, kwargs, error, fragment",
    [
        ("", {}, ValueError, "non-empty string"),
        (None, {}, ValueError, "non-empty string"),
        ("x" * 10_001, {}, ValueError, "limit is 10000"),
        ("hi", {"priority": "critical"}, ValueError, "priority must be one of"),
        ("hi", {"channel": ""}, ValueError, "channel must be a string"),
        ("hi", {"subject": 5}, TypeError, "subject must be a string"),
        ("hi", {"subject": "s" * 256}, ValueError, "subject is 256 characters"),
        ("hi", {"payload": object()}, TypeError, "must be JSON values"),
        ("hi", {"ratio": float("nan")}, TypeError, "must be JSON values"),
        ("nul\x00", {}, ValueError, "message must not contain NUL"),
        ("hi", {"body": "\ud800"}, ValueError, "body must not contain NUL"),
        ("hi", {"note": ["\x00"]}, ValueError, "extra arguments must not contain"),
        ("hi", {"note": {"\udfff": 1}}, ValueError, "extra arguments must not contain"),
    ],
)
@pytest.mark.parametrize("pool_size", [0, pytest.param(2, marks=pytest.mark.postgres)])
def test_bad_notifications_are_refused_and_nothing_is_stored(
    ctx, settings, pool_size, message, kwargs, error, fragment
):
    settings.IMPERAL_STORE_ASYNC_POOL = pool_size  # both write paths validate first
    with pytest.raises(error, match=fragment):
        async_to_sync(ctx.notify)(message, **kwargs)
    assert Notification.objects.count() == 0


@pytest.mark.parametrize("kwargs", [{}, {"user_id": "bob"}])
def test_the_system_context_has_no_recipient(system_ctx, kwargs):
    with pytest.raises(ValueError, match=r"ctx.as_user\(uid\).notify") as refused:
        async_to_sync(system_ctx.notify)("to whom?", **kwargs)
    assert r"ctx.notify.for_user(uid)" in str(refused.value)
    assert Notification.objects.count() == 0
    # The system context may address users (through as_user): not an attempt.
    assert not SecurityEvent.objects.exists()


def test_notify_for_user_from_a_user_context_is_refused_and_recorded(ctx):
    with pytest.raises(RuntimeError, match=r"for_user\(\) requires system context"):
        ctx.notify.for_user("bob")
    assert SecurityEvent.objects.filter(
        kind="notify_for_user_from_user_context", user_id="alice"
    ).exists()
    assert Notification.objects.count() == 0


def test_notify_for_user_from_the_system_context_reaches_that_user(system_ctx):
    async_to_sync(system_ctx.notify.for_user("bob"))("for bob", user_id="bob")
    note = Notification.objects.get()
    assert (note.user_id, note.message) == ("bob", "for bob")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_async_pool_stores_the_row_the_orm_would(ctx, settings):
    settings.IMPERAL_STORE_ASYNC_POOL = 2
    try:
        async_to_sync(ctx.notify)("pooled", priority="high", subject="S", ref=[1, "x"])
        async_to_sync(ctx.notify)("pooled", channel="telegram")
    finally:
        statements.close_pool()
    settings.IMPERAL_STORE_ASYNC_POOL = 0
    async_to_sync(ctx.notify)("pooled", priority="high", subject="S", ref=[1, "x"])

    def shape(note):
        return {
            f.name: getattr(note, f.name)
            for f in Notification._meta.concrete_fields
            if f.name not in ("id", "created_at")
        }

    pooled, unsupported, orm = Notification.objects.order_by("id")
    assert shape(pooled) == shape(orm)
    assert pooled.extra == {"ref": [1, "x"]}
    assert abs((orm.created_at - pooled.created_at).total_seconds()) < 60
    assert (unsupported.channel, unsupported.status) == ("telegram", "unsupported")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_database_failure_is_notify_unavailable_not_a_driver_error(ctx, settings):
    from django.db import connection

    from apps.notifications.core import NotifyUnavailable

    settings.IMPERAL_STORE_ASYNC_POOL = 2
    statements.close_pool()  # the next call must open a connection
    real_port = connection.settings_dict["PORT"]
    connection.settings_dict["PORT"] = "1"  # nothing listens there
    try:
        with pytest.raises(NotifyUnavailable, match="notification was not stored") as e:
            async_to_sync(ctx.notify)("lost")
        assert isinstance(e.value, NotificationError)
        assert (e.value.code, e.value.status) == ("unavailable", 503)
    finally:
        connection.settings_dict["PORT"] = real_port
        statements.close_pool()
    assert Notification.objects.count() == 0
