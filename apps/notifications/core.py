"""Send a notification: validate, store, deliver by channel."""

import json
import logging

from django.core.mail import send_mail
from django.db import DatabaseError, connections

from .models import Notification

logger = logging.getLogger(__name__)

PRIORITIES = ("low", "normal", "high", "urgent")
DELIVERED_CHANNELS = ("in_app", "email")
_MESSAGE_MAX_CHARS = 10_000
_SUBJECT_MAX_CHARS = 255


class NotifyUnavailable(Exception):
    """The notification could not be stored; the extension may retry."""


def send_notification(partition, message, **kwargs):
    """Store and deliver one notification to ``partition.user_id``; return the row.

    ``kwargs`` are imperal-sdk's NotifyClient keyword arguments: ``priority``,
    ``channel``, ``subject``, ``body``; anything else is kept verbatim in
    ``extra``. Channel ``in_app`` is delivered by being stored, ``email`` goes
    through Django's email backend to the user's address, and other channels
    (telegram, …) are stored and marked unsupported.

    Raises ValueError or TypeError, before anything is written, for a bad
    message, priority, channel, subject or non-JSON argument, and
    NotifyUnavailable when the database fails.
    """
    notification = build_notification(partition, message, **kwargs)
    if notification.channel == "email":
        _deliver_email(notification)
    try:
        notification.save()
    except DatabaseError as exc:
        raise translated(exc) from exc
    return notification


def build_notification(partition, message, **kwargs):
    """Return the validated, unsaved Notification (see :func:`send_notification`).

    Email is not delivered here; every other channel's outcome is set.
    """
    notification = Notification(**_validated_fields(partition, message, kwargs))
    if notification.channel not in DELIVERED_CHANNELS:
        notification.status = Notification.Status.UNSUPPORTED
        notification.error = (
            f"channel {notification.channel!r} has no transport on this platform"
        )
    return notification


def insert_operation(notification, alias="default"):
    """Yield the one INSERT that stores ``notification``; return it.

    The statement and its values are Django's own field preparation, so a row
    written this way (by the async driver of apps.store.pool) is the row
    ``notification.save()`` would write, apart from the id it does not read back.
    """
    connection = connections[alias]
    fields = [f for f in Notification._meta.concrete_fields if not f.primary_key]
    values = [
        f.get_db_prep_save(f.pre_save(notification, add=True), connection)
        for f in fields
    ]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    table = connection.ops.quote_name(Notification._meta.db_table)
    yield (f"INSERT INTO {table} ({columns}) VALUES ({placeholders})", values)
    return notification


def translated(exc):
    """Return the NotifyUnavailable an extension sees for a database error."""
    logger.warning("notify: database error %s: %s", type(exc).__name__, exc)
    return NotifyUnavailable(
        f"notify: the notification was not stored "
        f"({type(exc).__name__}: {str(exc).strip()[:200]})"
    )


def _validated_fields(partition, message, kwargs):
    if partition.is_system:
        raise ValueError(
            "notify: the system context has no recipient; use ctx.as_user(uid).notify(...)"
        )
    if not isinstance(message, str) or not message.strip():
        raise ValueError(
            f"notify: message must be a non-empty string, got {message!r:.80}"
        )
    if len(message) > _MESSAGE_MAX_CHARS:
        raise ValueError(
            f"notify: message is {len(message)} characters; the limit is {_MESSAGE_MAX_CHARS}"
        )
    extra = dict(kwargs)
    extra.pop("user_id", None)  # the recipient is the context's user, never an argument
    extra.pop("extension_id", None)
    priority = extra.pop("priority", "normal")
    channel = extra.pop("channel", "in_app")
    subject = extra.pop("subject", "")
    body = extra.pop("body", "")
    if priority not in PRIORITIES:
        raise ValueError(
            f"notify: priority must be one of {PRIORITIES}, got {priority!r}"
        )
    if not isinstance(channel, str) or not channel or len(channel) > 32:
        raise ValueError(
            f"notify: channel must be a string of 1-32 characters, got {channel!r}"
        )
    for name, value in (("subject", subject), ("body", body)):
        if not isinstance(value, str):
            raise TypeError(
                f"notify: {name} must be a string, got {type(value).__name__}"
            )
    if len(subject) > _SUBJECT_MAX_CHARS:
        raise ValueError(
            f"notify: subject is longer than {_SUBJECT_MAX_CHARS} characters"
        )
    try:
        json.dumps(extra, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"notify: extra arguments must be JSON values ({exc})"
        ) from None
    return {
        "tenant_id": partition.tenant_id,
        "app_id": partition.app_id,
        "user_id": partition.user_id,
        "message": message,
        "channel": channel,
        "priority": priority,
        "subject": subject,
        "body": body,
        "extra": extra,
    }


def _deliver_email(notification):
    from apps.accounts.models import User

    user = User.objects.filter(
        imperal_id=notification.user_id, tenant_id=notification.tenant_id
    ).first()
    if user is None or not user.email:
        notification.status = Notification.Status.FAILED
        notification.error = "the user has no email address on this platform"
        return
    try:
        send_mail(
            subject=notification.subject or notification.message[:78],
            message=notification.body or notification.message,
            from_email=None,
            recipient_list=[user.email],
        )
    except Exception as exc:  # any transport error becomes a stored, visible failure
        logger.warning("notify email to user %s failed: %s", notification.user_id, exc)
        notification.status = Notification.Status.FAILED
        notification.error = f"{type(exc).__name__}: {exc}"
