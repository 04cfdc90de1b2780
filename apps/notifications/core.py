"""Notifications: the rules for sending one, and a user's list of them.

``send_notification`` validates, stores and delivers by channel; every check
runs before anything is stored or mailed. ``list_notifications``,
``mark_read`` and ``mark_all_read`` serve a user's own notifications: each
query filters by (tenant_id, user_id) first.
"""

import base64
import binascii
import datetime
import json
import logging
from dataclasses import dataclass

from django.core.mail import send_mail
from django.db import DatabaseError, connections
from django.db.models import Q
from django.utils import timezone

from apps.accounts.ids import check_user_id
from apps.accounts.models import PRIVILEGED_IDS, User
from apps.accounts.security import record_threat

from .models import Notification
from .rules import NotificationError, checked_content

logger = logging.getLogger(__name__)

LIST_LIMIT_MAX = 100
NOTIFICATION_ID_MAX = 2**63 - 1  # the BigAutoField's range
CURSOR_MAX_CHARS = 200

_CURSOR_VERSION = 1


class NotifyUnavailable(NotificationError):
    """The notification could not be stored; the extension may retry."""

    code = "unavailable"


class NotifyForbidden(NotificationError, PermissionError):
    """The call asked to send as another user or another extension; nothing was sent.

    A PermissionError, not a ValueError: the value is well-formed but the
    caller has no right to it, and the attempt is recorded as a security event.
    """

    code = "forbidden"


class NotificationNotFound(NotificationError, LookupError):
    """No notification with that id belongs to this user (another user's is not found)."""

    code = "not_found"


@dataclass(frozen=True)
class NotificationPage:
    """One page of a user's notifications, newest first.

    ``cursor`` is passed back as ``after`` for the next page; it is None when
    ``has_more`` is False.
    """

    data: list
    cursor: str | None
    has_more: bool

    def __iter__(self):
        return iter(self.data)

    def __len__(self):
        return len(self.data)


# --- sending -------------------------------------------------------------------


def send_notification(partition, message, **kwargs):
    """Store and deliver one notification to ``partition.user_id``; return the row.

    ``kwargs`` are imperal-sdk's NotifyClient keyword arguments: ``priority``,
    ``channel``, ``subject``, ``body``; ``user_id`` and ``extension_id`` may
    only repeat the partition's own; anything else is kept verbatim in
    ``extra``. Channel ``in_app`` is delivered by being stored, ``email`` goes
    through Django's email backend to the user's address, and other channels
    (telegram, …) are stored and marked unsupported.

    Raises, before anything is stored or mailed: NotifyTooLarge (a
    ValueError) for a message, subject, body or extra arguments over their
    limit; ValueError or TypeError for any other bad argument (a priority not
    in Notification.Priority, an empty message, a non-JSON extra);
    InvalidUserId (a ValueError) for a recipient whose id breaks the user-id
    rule; NotifyForbidden (recorded as a security
    event) for another user's ``user_id`` or another extension's
    ``extension_id``. Raises NotifyUnavailable when the database fails.
    """
    notification = build_notification(partition, message, **kwargs)
    if notification.channel == Notification.Channel.EMAIL:
        _deliver_email(notification)
    try:
        notification.save()
    except DatabaseError as exc:
        raise translated(exc) from exc
    return notification


def build_notification(partition, message, **kwargs):
    """Return the validated, unsaved Notification (see :func:`send_notification`).

    Email is not delivered here; every other channel's outcome is set.
    Raises what :func:`send_notification` raises before a write.
    """
    return Notification(**notification_row(partition, message, **kwargs))


def notification_row(partition, message, **kwargs):
    """Return the validated column values of one notification, as a dict.

    No model instance is built: a fan-out stores thousands of these with
    :func:`insert_rows`. The channel's outcome is set (email is not delivered
    here) and ``created_at`` is now. Raises what :func:`send_notification`
    raises before a write.
    """
    row = _validated_fields(partition, message, kwargs)
    supported = row["channel"] in Notification.Channel.values
    row["status"] = (
        Notification.Status.DELIVERED.value
        if supported
        else Notification.Status.UNSUPPORTED.value
    )
    row["error"] = (
        ""
        if supported
        else f"channel {row['channel']!r} has no transport on this platform"
    )
    row["created_at"] = timezone.now()
    return row


ROW_COLUMNS = (
    "tenant_id",
    "app_id",
    "user_id",
    "message",
    "channel",
    "priority",
    "subject",
    "body",
    "extra",
    "status",
    "error",
    "created_at",
)


def insert_rows(rows, alias="default"):
    """Yield the one INSERT that stores ``rows`` (from :func:`notification_row`);
    return how many.

    Runs on Django's connection ``alias`` or on the async pool of
    apps.store.pool (PostgreSQL); either way one statement for the batch. On
    PostgreSQL the rows travel as one array per column, so the statement's
    text is the same whatever the batch size (parsed and prepared once).
    """
    if not rows:
        return 0
    connection = connections[alias]
    ops = connection.ops
    table = ops.quote_name(Notification._meta.db_table)
    columns = ", ".join(ops.quote_name(c) for c in ROW_COLUMNS)
    extras = [json.dumps(row["extra"], separators=(",", ":")) for row in rows]
    if connection.vendor == "postgresql":
        arrays = [[row[c] for row in rows] for c in ROW_COLUMNS]
        arrays[ROW_COLUMNS.index("extra")] = extras
        yield (f"INSERT INTO {table} ({columns}) {_UNNEST_ROWS}", arrays)
        return len(rows)
    params = []
    for row, extra in zip(rows, extras, strict=True):
        params += [row[c] for c in ROW_COLUMNS[:8]]
        params += (
            extra,
            row["status"],
            row["error"],
            ops.adapt_datetimefield_value(row["created_at"]),
        )
    values = ", ".join(["(" + ", ".join(["%s"] * len(ROW_COLUMNS)) + ")"] * len(rows))
    yield (f"INSERT INTO {table} ({columns}) VALUES {values}", params)
    return len(rows)


# One array parameter per ROW_COLUMNS entry; extra travels as text.
_UNNEST_ROWS = (
    "SELECT tenant_id, app_id, user_id, message, channel, priority, subject, body, "
    "extra::jsonb, status, error, created_at FROM unnest("
    + ", ".join(["%s::text[]"] * 11)
    + ", %s::timestamptz[]) AS r(tenant_id, app_id, user_id, message, channel, "
    "priority, subject, body, extra, status, error, created_at)"
)


def translated(exc):
    """Return the NotifyUnavailable an extension sees for a database error."""
    logger.warning("notify: database error %s: %s", type(exc).__name__, exc)
    return NotifyUnavailable(
        f"notify: the notification was not stored "
        f"({type(exc).__name__}: {str(exc).strip()[:200]})"
    )


def _validated_fields(partition, message, kwargs):
    if partition.user_id in PRIVILEGED_IDS:
        raise ValueError(
            f"notify: the {partition.user_id} context has no recipient; address a user with "
            "ctx.as_user(uid).notify(...) or ctx.notify.for_user(uid)(...)"
        )
    check_user_id(partition.user_id, "notify: the recipient")
    fields = dict(kwargs)
    _refuse_other_user(partition, fields.pop("user_id", None))
    _refuse_other_extension(partition, fields.pop("extension_id", None))
    return {
        "tenant_id": partition.tenant_id,
        "app_id": partition.app_id,
        "user_id": partition.user_id,
        **checked_content(message, fields),
    }


def _refuse_other_user(partition, user_id):
    target = repr(str(user_id))[:80]
    _refuse_other(
        partition,
        "user_id",
        user_id,
        partition.user_id,
        f"is not this context's user {partition.user_id!r}; ctx.notify only reaches "
        "the context's own user. A system context (a scheduled handler) addresses "
        f"another user with ctx.as_user({target}).notify(...) or "
        f"ctx.notify.for_user({target})(...)",
    )


def _refuse_other_extension(partition, extension_id):
    _refuse_other(
        partition,
        "extension_id",
        extension_id,
        partition.app_id,
        f"is not this extension {partition.app_id!r}; a notification is always "
        "sent as the extension whose handler is running",
    )


def _refuse_other(partition, name, value, own, why):
    # imperal-sdk's NotifyClient always sends its own user_id ("" when unbound),
    # so repeating the context's own value, or sending none, is not an attempt.
    if value in (None, "", own):
        return
    target = str(value)
    kind = f"notify_{name.removesuffix('_id')}_id_mismatch"
    record_threat(kind, partition, target=target)
    raise NotifyForbidden(f"notify: {name} {target!r:.80} {why}")


def _deliver_email(notification):
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


# --- a user's notifications ------------------------------------------------------


def list_notifications(tenant_id, user_id, *, unread_only=False, after=None, limit=50):
    """Return a NotificationPage of the user's notifications, newest first.

    Keyset pagination on (created_at, id): pass the page's ``cursor`` as
    ``after`` for the next one; rows inserted meanwhile never shift or repeat
    a page. ``unread_only`` keeps the notifications whose ``read_at`` is null.

    Raises ValueError for an empty tenant or user, a ``limit`` outside
    1..LIST_LIMIT_MAX, or a cursor list_notifications did not make.
    """
    rows = _owned(tenant_id, user_id)
    limit = _page_limit(limit)
    if unread_only:
        rows = rows.unread()
    if after is not None:
        created_at, last_id = _decode_cursor(after)
        rows = rows.filter(
            Q(created_at__lt=created_at) | Q(created_at=created_at, id__lt=last_id)
        )
    found = list(rows.order_by("-created_at", "-id")[: limit + 1])
    page, has_more = found[:limit], len(found) > limit
    cursor = _encode_cursor(page[-1]) if has_more else None
    return NotificationPage(data=page, cursor=cursor, has_more=has_more)


def mark_read(tenant_id, user_id, notification_id):
    """Mark one of the user's notifications read; return whether it was unread.

    Raises NotificationNotFound when no notification with that id belongs to
    this user, which is also the answer for another user's id (it is left
    untouched), and ValueError for an id that is not a positive integer.
    """
    mine = _owned(tenant_id, user_id).filter(pk=_notification_pk(notification_id))
    if mine.unread().update(read_at=timezone.now()):
        return True
    if mine.exists():
        return False
    raise NotificationNotFound(
        f"notify: no notification {notification_id!r:.40} for this user"
    )


def mark_all_read(tenant_id, user_id, *, app_id=None):
    """Mark every unread notification of the user read (of one extension when
    ``app_id`` is given) in one UPDATE; return how many were marked.

    Notifications already read keep their ``read_at``. Raises ValueError for
    an empty tenant, user or app_id.
    """
    rows = _owned(tenant_id, user_id).unread()
    if app_id is not None:
        rows = rows.filter(app_id=_required_text("app_id", app_id))
    return rows.update(read_at=timezone.now())


def _owned(tenant_id, user_id):
    return Notification.objects.for_user(
        _required_text("tenant_id", tenant_id), _required_text("user_id", user_id)
    )


def _required_text(name, value):
    if not isinstance(value, str) or not value:
        raise ValueError(
            f"notify: {name} must be a non-empty string, got {value!r:.80}"
        )
    return value


def _page_limit(limit):
    return _bounded_int("limit", limit, LIST_LIMIT_MAX)


def _notification_pk(value):
    # Ids arrive from URLs and JSON bodies, so a string of digits is accepted.
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    return _bounded_int("notification_id", value, NOTIFICATION_ID_MAX)


def _is_bounded_int(value, maximum):
    """Return whether ``value`` is an int (not a bool) from 1 to ``maximum``."""
    return (
        isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= maximum
    )


def _bounded_int(name, value, maximum):
    """Return ``value``; ValueError naming ``name`` unless it is an int 1-maximum."""
    if not _is_bounded_int(value, maximum):
        raise ValueError(
            f"notify: {name} must be an integer 1-{maximum}, got {value!r:.40}"
        )
    return value


def _encode_cursor(notification):
    payload = [
        _CURSOR_VERSION,
        notification.created_at.isoformat(),
        notification.pk,
    ]
    text = json.dumps(payload, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode("ascii")


def _decode_cursor(cursor):
    """Return (created_at, id) from a cursor; ValueError if list_notifications did
    not make it."""
    invalid = ValueError(
        f"notify: after must be the cursor of a list_notifications page, "
        f"got {cursor!r:.60}"
    )
    if not isinstance(cursor, str) or not 0 < len(cursor) <= CURSOR_MAX_CHARS:
        raise invalid
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        version, created_at, last_id = json.loads(raw)
        created_at = datetime.datetime.fromisoformat(created_at)
    except (binascii.Error, ValueError, TypeError):
        raise invalid from None
    if (
        version != _CURSOR_VERSION
        or created_at.tzinfo is None
        or not _is_bounded_int(last_id, NOTIFICATION_ID_MAX)
    ):
        raise invalid
    return created_at, last_id
