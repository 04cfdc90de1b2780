"""Keys the platform signs its short-lived credentials with, derived from SECRET_KEY.

SECRET_KEY itself never signs a token: each kind of credential gets its own key,
an HMAC of SECRET_KEY over a fixed label, so one kind's key reveals nothing
about another's. Both the side that mints (the kernel, the runtime) and the
side that verifies (the gateway) read them here.
"""

import hashlib
import hmac

from django.conf import settings

CALL_TOKEN_LABEL = b"imperal-platform call-token secret v1"
RUNTIME_TOKEN_LABEL = b"imperal-platform runtime-token secret v1"


def derived_key(label):
    """Return HMAC-SHA256(SECRET_KEY, ``label``) as bytes."""
    return hmac.new(settings.SECRET_KEY.encode(), label, hashlib.sha256).digest()


def call_token_secrets():
    """Return the HMAC secrets of call tokens, newest first (bytes).

    IMPERAL_CALL_TOKEN_SECRETS when set; else one key derived from SECRET_KEY.
    The first one mints.
    """
    configured = getattr(settings, "IMPERAL_CALL_TOKEN_SECRETS", None)
    if configured:
        return [s.encode() if isinstance(s, str) else bytes(s) for s in configured]
    return [derived_key(CALL_TOKEN_LABEL)]
