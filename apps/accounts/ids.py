"""The user-id rule every face enforces, and the characters no name may hold.

A user id is the third part of every partition key: it travels in URLs (the
console, the operator API, the gateway's cache route), file names of exports,
log lines and Redis keys. :func:`check_user_id` is the one rule for it,
checked wherever an id enters — ``ctx.as_user`` and ``for_user``, the gateway,
the REST API and its CLI, notifications, user accounts — before any write.
"""

import re

from apps.common.errors import CodedError

# Unicode format characters (category Cf, Unicode 14): zero-width, bidi
# controls, BOM, ... make lookalike names; tests check the list against
# unicodedata.
FORMAT_CHARACTERS = (
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e"
    "\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U00013438\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f"
)
# Control (C0, DEL, C1), format and lone surrogate characters: never in a name.
INVISIBLE = "\x00-\x1f\x7f-\x9f\ud800-\udfff" + FORMAT_CHARACTERS

USER_ID_MAX_CHARS = 128  # the width of every user_id column
# '/' splits URL paths; markup characters would be live in any page or mail
# that forgot to escape; '.' and '..' are path segments a browser resolves.
_FORBIDDEN_IN_USER_ID = re.compile(f"[\\s/<>\"'`{INVISIBLE}]")
_DOT_SEGMENTS = frozenset({".", ".."})
USER_ID_RULE = (
    f"a user id is a string of 1-{USER_ID_MAX_CHARS} characters, not '.' or '..', "
    "without whitespace, '/', the markup characters < > \" ' `, control or "
    "format characters or lone surrogates"
)
CLIP_CHARS = 80  # of an offending value, in a message


class InvalidUserId(CodedError, ValueError):
    """A user id that breaks :data:`USER_ID_RULE`; nothing was written."""

    code = "invalid_argument"


def is_valid_user_id(value):
    """Return whether ``value`` follows the user-id rule."""
    return (
        isinstance(value, str)
        and 0 < len(value) <= USER_ID_MAX_CHARS
        and value not in _DOT_SEGMENTS
        and _FORBIDDEN_IN_USER_ID.search(value) is None
    )


def check_user_id(value, source="user id"):
    """Return ``value`` if it follows the user-id rule; else raise InvalidUserId.

    ``source`` names where the id came from in the message
    (``"ctx.as_user()"``, ``"X-Acting-User"``); the message states the rule
    and the offending value, clipped.
    """
    if is_valid_user_id(value):
        return value
    raise InvalidUserId(f"{source}: {USER_ID_RULE}; got {clipped(value)}")


def clipped(value, limit=CLIP_CHARS):
    """Return ``repr(value)`` cut to ``limit`` characters, saying how long it was."""
    if not isinstance(value, str):
        return f"a {type(value).__name__}"
    shown = repr(value)
    if len(shown) <= limit:
        return shown
    return f"{shown[:limit]}… ({len(value)} characters)"
