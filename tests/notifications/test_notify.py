"""ctx.notify: stored, delivered by channel, validated before any write."""

import pytest
from asgiref.sync import async_to_sync
from django.core import mail

from apps.accounts.identity import system_user_context, user_context
from apps.extensions.context import build_context
from apps.notifications.models import Notification

pytestmark = pytest.mark.django_db


@pytest.fixture
def ctx(use_extensions, alice):
    ext = use_extensions("tests.fixtures.extensions.probe").get("probe").ext
    return build_context(ext, user_context(alice))


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


def test_notify_cannot_redirect_to_another_user(ctx):
    async_to_sync(ctx.notify)("hello", user_id="bob")
    assert Notification.objects.get().user_id == "alice"


@pytest.mark.parametrize(
    "message, kwargs, error, fragment",
    [
        ("", {}, ValueError, "non-empty string"),
        (None, {}, ValueError, "non-empty string"),
        ("x" * 10_001, {}, ValueError, "limit is 10000"),
        ("hi", {"priority": "critical"}, ValueError, "priority must be one of"),
        ("hi", {"channel": ""}, ValueError, "channel must be a string"),
        ("hi", {"subject": 5}, TypeError, "subject must be a string"),
        ("hi", {"subject": "s" * 256}, ValueError, "longer than 255"),
        ("hi", {"payload": object()}, TypeError, "must be JSON values"),
        ("hi", {"ratio": float("nan")}, TypeError, "must be JSON values"),
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


def test_the_system_context_has_no_recipient(use_extensions):
    ext = use_extensions("tests.fixtures.extensions.probe").get("probe").ext
    ctx = build_context(ext, system_user_context())
    with pytest.raises(ValueError, match="ctx.as_user"):
        async_to_sync(ctx.notify)("to whom?")
    assert Notification.objects.count() == 0


def test_notify_for_user_from_a_user_context_is_refused_and_recorded(ctx):
    from apps.extensions.models import SecurityEvent

    with pytest.raises(RuntimeError, match=r"for_user\(\) requires system context"):
        ctx.notify.for_user("bob")
    assert SecurityEvent.objects.filter(
        kind="notify_for_user_from_user_context", user_id="alice"
    ).exists()
    assert Notification.objects.count() == 0


def test_notify_for_user_from_the_system_context_reaches_that_user(use_extensions):
    ext = use_extensions("tests.fixtures.extensions.probe").get("probe").ext
    system = build_context(ext, system_user_context())
    async_to_sync(system.notify.for_user("bob"))("for bob")
    note = Notification.objects.get()
    assert (note.user_id, note.message) == ("bob", "for bob")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_async_pool_stores_the_row_the_orm_would(ctx, settings):
    from apps.store import pool

    settings.IMPERAL_STORE_ASYNC_POOL = 2
    try:
        async_to_sync(ctx.notify)("pooled", priority="high", subject="S", ref=[1, "x"])
        async_to_sync(ctx.notify)("pooled", channel="telegram")
    finally:
        pool.close_all()
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
    from apps.store import pool

    settings.IMPERAL_STORE_ASYNC_POOL = 2
    pool.close_all()  # the next call must open a connection
    real_port = connection.settings_dict["PORT"]
    connection.settings_dict["PORT"] = "1"  # nothing listens there
    try:
        with pytest.raises(NotifyUnavailable, match="notification was not stored"):
            async_to_sync(ctx.notify)("lost")
    finally:
        connection.settings_dict["PORT"] = real_port
        pool.close_all()
    assert Notification.objects.count() == 0
