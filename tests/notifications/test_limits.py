"""ctx.notify's size limits: checked before anything is stored or mailed."""

import json

import pytest
from asgiref.sync import async_to_sync
from django.core import mail

from apps.notifications.models import Notification
from apps.notifications.rules import (
    BODY_MAX_CHARS,
    EXTRA_MAX_BYTES,
    EXTRA_MAX_KEYS,
    NotifyTooLarge,
)

pytestmark = pytest.mark.django_db

HUGE = 20 * 1024 * 1024  # the 20 MB of the security review


def mail_files(mail_dir):
    return sorted(mail_dir.iterdir()) if mail_dir.exists() else []


def extra_of_compact_size(size):
    """Return one extra keyword argument whose compact JSON is ``size`` bytes."""
    overhead = len(json.dumps({"blob": ""}, separators=(",", ":")))
    return {"blob": "x" * (size - overhead)}


def test_an_email_within_every_limit_is_stored_and_mailed(ctx, mail_dir):
    extra = extra_of_compact_size(EXTRA_MAX_BYTES)
    async_to_sync(ctx.notify)(
        "Export", channel="email", body="b" * BODY_MAX_CHARS, **extra
    )
    note = Notification.objects.get()
    assert (len(note.body), note.extra, note.status) == (
        BODY_MAX_CHARS,
        extra,
        "delivered",
    )
    assert len(mail_files(mail_dir)) == 1


def test_as_many_extra_arguments_as_the_limit_are_kept(ctx):
    extra = {f"k{i}": i for i in range(EXTRA_MAX_KEYS)}
    async_to_sync(ctx.notify)("hello", **extra)
    assert Notification.objects.get().extra == extra


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        (
            {"body": "b" * (BODY_MAX_CHARS + 1)},
            f"body is {BODY_MAX_CHARS + 1} characters; the limit is "
            f"{BODY_MAX_CHARS} (BODY_MAX_CHARS)",
        ),
        (
            {"body": "b" * HUGE},
            f"body is {HUGE} characters; the limit is {BODY_MAX_CHARS}",
        ),
        (
            extra_of_compact_size(EXTRA_MAX_BYTES + 1),
            f"extra arguments are {EXTRA_MAX_BYTES + 1} bytes as compact JSON; "
            f"the limit is {EXTRA_MAX_BYTES} (EXTRA_MAX_BYTES)",
        ),
        (
            {f"k{i}": "x" * (HUGE // 20) for i in range(20)},
            f"the limit is {EXTRA_MAX_BYTES} (EXTRA_MAX_BYTES)",
        ),
        (
            {f"k{i}": i for i in range(EXTRA_MAX_KEYS + 1)},
            f"{EXTRA_MAX_KEYS + 1} extra arguments; the limit is {EXTRA_MAX_KEYS} "
            "(EXTRA_MAX_KEYS)",
        ),
    ],
    ids=["body-over", "body-20mb", "extra-over", "extra-20mb", "extra-keys"],
)
@pytest.mark.parametrize("channel", ["in_app", "email"])
@pytest.mark.parametrize("pool_size", [0, pytest.param(2, marks=pytest.mark.postgres)])
def test_over_a_limit_nothing_is_stored_or_mailed(
    ctx, settings, mail_dir, pool_size, channel, kwargs, fragment
):
    settings.IMPERAL_STORE_ASYNC_POOL = pool_size
    with pytest.raises(NotifyTooLarge) as refused:
        async_to_sync(ctx.notify)("Export", channel=channel, **kwargs)
    assert isinstance(refused.value, ValueError)
    assert (refused.value.code, refused.value.status) == ("payload_too_large", 413)
    assert fragment in str(refused.value)
    assert len(str(refused.value)) < 300  # the offending value is not echoed
    assert Notification.objects.count() == 0
    assert mail_files(mail_dir) == []
    assert mail.outbox == []
