"""What one notification may hold: the content rules, in plain Python (no Django).

The notify core (apps.notifications.core) applies them before anything is
stored or mailed; an isolated worker applies the same functions to a
notification its fire holds for a user's delivery, so a bad one raises where
it is sent without a round trip to the platform (the gateway checks it again
when the delivery is reported). Who a notification goes to and as which
extension are the core's rules: they record security events.
"""

import json
import re

from apps.common.errors import CodedError

MESSAGE_MAX_CHARS = 10_000
SUBJECT_MAX_CHARS = 255
BODY_MAX_CHARS = 50_000
CHANNEL_MAX_CHARS = 32
EXTRA_MAX_KEYS = 32
EXTRA_MAX_BYTES = 16 * 1024  # of the compact JSON of the extra keyword arguments
# The values of Notification.Priority (tests hold the two equal).
PRIORITIES = ("low", "normal", "high", "urgent")
DEFAULT_PRIORITY = "normal"
IN_APP = "in_app"

_UNSTORABLE_TEXT = re.compile("[\x00\ud800-\udfff]")


class NotificationError(CodedError, Exception):
    """Base of the notification errors.

    ``code`` is stable: a key of the one error table (apps.common.errors),
    which gives the HTTP status every face answers with.
    """

    code = "internal"


class NotifyTooLarge(NotificationError, ValueError):
    """A text or the extra arguments are over their limit; nothing was stored or mailed."""

    code = "payload_too_large"


def checked_content(message, fields):
    """Return the content columns of one notification: message, channel, priority,
    subject, body and extra (every other keyword argument), in that order.

    ``fields`` are imperal-sdk NotifyClient's keyword arguments less the routing
    ones (``user_id``, ``extension_id``). Raises NotifyTooLarge (a ValueError)
    for a text or extra arguments over their limit, ValueError or TypeError for
    any other bad value.
    """
    extra = dict(fields)
    priority = extra.pop("priority", DEFAULT_PRIORITY)
    channel = extra.pop("channel", IN_APP)
    subject = extra.pop("subject", "")
    body = extra.pop("body", "")
    check_message(message)
    if priority not in PRIORITIES:
        raise ValueError(
            f"notify: priority must be one of {PRIORITIES}, got {priority!r:.80}"
        )
    if not isinstance(channel, str) or not 0 < len(channel) <= CHANNEL_MAX_CHARS:
        raise ValueError(
            f"notify: channel must be a string of 1-{CHANNEL_MAX_CHARS} characters, "
            f"got {channel!r:.80}"
        )
    check_text("channel", channel, CHANNEL_MAX_CHARS)
    check_text("subject", subject, SUBJECT_MAX_CHARS)
    check_text("body", body, BODY_MAX_CHARS)
    check_extra(extra)
    return {
        "message": message,
        "channel": channel,
        "priority": priority,
        "subject": subject,
        "body": body,
        "extra": extra,
    }


def check_message(message):
    """Raise ValueError/NotifyTooLarge unless ``message`` is a storable, non-empty string."""
    if not isinstance(message, str) or not message.strip():
        raise ValueError(
            f"notify: message must be a non-empty string, got {message!r:.80}"
        )
    check_text("message", message, MESSAGE_MAX_CHARS)


def check_text(name, value, max_chars):
    """Raise TypeError/ValueError unless ``value`` is a storable string of ``max_chars``.

    ``max_chars`` is the module's ``<NAME>_MAX_CHARS``, which the error names.
    """
    if not isinstance(value, str):
        raise TypeError(f"notify: {name} must be a string, got {type(value).__name__}")
    if len(value) > max_chars:
        raise NotifyTooLarge(
            f"notify: {name} is {len(value)} characters; the limit is {max_chars} "
            f"({name.upper()}_MAX_CHARS)"
        )
    # PostgreSQL stores neither NUL nor lone surrogates; refuse them on SQLite too.
    if _UNSTORABLE_TEXT.search(value):
        raise ValueError(
            f"notify: {name} must not contain NUL characters or lone surrogates"
        )


def check_extra(extra):
    """Raise TypeError/ValueError unless ``extra`` is small, storable JSON."""
    if len(extra) > EXTRA_MAX_KEYS:
        raise NotifyTooLarge(
            f"notify: {len(extra)} extra arguments; the limit is {EXTRA_MAX_KEYS} "
            f"(EXTRA_MAX_KEYS)"
        )
    try:
        text = json.dumps(extra, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise TypeError(
            f"notify: extra arguments must be JSON values ({str(exc)[:200]})"
        ) from None
    if len(text) > EXTRA_MAX_BYTES:  # ensure_ascii: one character is one byte
        raise NotifyTooLarge(
            f"notify: extra arguments are {len(text)} bytes as compact JSON; the "
            f"limit is {EXTRA_MAX_BYTES} (EXTRA_MAX_BYTES)"
        )
    # ensure_ascii turned NUL into \u0000 and kept lone surrogates as \udXXX
    # escapes; decoding gives back the strings PostgreSQL's jsonb would refuse.
    if any(_UNSTORABLE_TEXT.search(s) for s in _json_strings(json.loads(text))):
        raise ValueError(
            "notify: extra arguments must not contain NUL characters or lone surrogates"
        )


def _json_strings(value):
    """Yield every string in a decoded JSON value, object keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _json_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _json_strings(item)
