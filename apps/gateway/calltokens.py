"""imperal-sdk's per-invocation call tokens, verified with the SDK's own function.

The SDK's replay rule (SETNX of the token's ``jti``) would refuse the SDK's own
CacheClient, which sends one call token on every request of an invocation. The
replay store handed to the SDK here accepts a ``jti`` again within its
lifetime, for the same (app, user) only; the token stays short-lived and bound
to its app and user (both signed). Short-lived is checked here, before any
I/O: ``iat`` and ``exp`` are integers and the token lives at most
IMPERAL_CALL_TOKEN_MAX_LIFETIME seconds, counted from its ``iat`` and from now.

A token this process verified is remembered (:class:`VerifiedTokens`) until its
``exp``: a worker sends one token on every request of its call, and the second
request on needs neither the HMAC nor the replay store again. A remembered
token is the exact string verified, under the same secrets; the replay store
would accept it again anyway (same ``jti``, same signed app and user).
"""

import base64
import binascii
import json
import threading
import time
from collections import OrderedDict

from django.conf import settings
from django.core.cache import cache
from imperal_sdk.security.call_token import (
    CallTokenError,
    verify_call_token_any_tool_type,
)

from apps.common.errors import CodedError
from apps.common.signing import call_token_secrets
from apps.runtime.credentials import kernel_claims_of

# A call token lives for one invocation; the longest one may run is a schedule's.
DEFAULT_MAX_LIFETIME_SECONDS = 3600


class CallTokenRejected(Exception):
    """A call token failed verification; ``str()`` names why, never the token."""


class ReplayStoreUnavailable(CodedError, Exception):
    """The cache that records call-token ids failed; the request may be retried."""

    code = "unavailable"
    retry_after = 5


class ReplayWindow:
    """The replay store passed to imperal-sdk's verify: ``set(key, value, nx, ex)``.

    The first use of a ``jti`` records its (app, user) for the token's remaining
    lifetime; a later use of the same ``jti`` is accepted when it is for the
    same (app, user), refused otherwise. Kept in Django's default cache, so
    every worker process sees the same record.
    """

    def __init__(self, app_id, user_id, store=None):
        self.owner = f"{app_id}\x1f{user_id}"
        self.store = store or cache

    async def set(self, key, value, nx=False, ex=None):
        """Return True when the jti may be used by this (app, user).

        Raises ReplayStoreUnavailable when the cache fails.
        """
        try:
            if self.store.add(key, self.owner, timeout=ex):
                return True
            return self.store.get(key) == self.owner
        except Exception as exc:  # any cache backend's error, translated at the edge
            raise ReplayStoreUnavailable(
                f"call tokens cannot be checked: the cache failed ({type(exc).__name__})"
            ) from exc


def max_lifetime():
    """Return the longest a call token may live, in seconds
    (IMPERAL_CALL_TOKEN_MAX_LIFETIME)."""
    return getattr(
        settings, "IMPERAL_CALL_TOKEN_MAX_LIFETIME", DEFAULT_MAX_LIFETIME_SECONDS
    )


class VerifiedTokens:
    """The call tokens this process verified, each until its ``exp`` (at most
    ``size``, the oldest forgotten first). Thread-safe."""

    size = 4096

    def __init__(self):
        self._lock = threading.Lock()
        self._tokens = OrderedDict()  # raw -> (keys, claims)

    def get(self, raw, keys, now):
        """Return the claims of ``raw`` verified under ``keys`` and not expired
        at ``now``, or None."""
        with self._lock:
            held = self._tokens.get(raw)
        if held is None or held[0] != keys or held[1].exp <= now:
            return None
        return held[1]

    def add(self, raw, keys, claims):
        """Remember ``claims`` as the verification of ``raw`` under ``keys``."""
        with self._lock:
            self._tokens[raw] = (keys, claims)
            self._tokens.move_to_end(raw)
            while len(self._tokens) > self.size:
                self._tokens.popitem(last=False)

    def clear(self):
        with self._lock:
            self._tokens.clear()


verified_tokens = VerifiedTokens()


def verify(raw, now=None):
    """Return the verified CallTokenClaims of a raw call token; raise CallTokenRejected.

    The claimed times are checked first (:func:`check_lifetime`); the claimed
    app and user are read from the payload only to ask the SDK's
    ``verify_call_token_any_tool_type`` for them: the SDK checks the
    signature, the claims, the expiry and (through ReplayWindow) the jti.
    A token this process verified before and not yet expired is answered
    from :data:`verified_tokens` (the lifetime rule is checked again).
    """
    now = int(time.time()) if now is None else now
    claims = _claimed_payload(raw)
    check_lifetime(claims, now)
    keys = tuple(call_token_secrets())
    known = verified_tokens.get(raw, keys, now)
    if known is not None:
        return known
    verified = _verify_with_sdk(raw, claims, keys)
    verified_tokens.add(raw, keys, verified)
    return verified


def _verify_with_sdk(raw, claims, keys):
    app_id, user_id = _claimed_identity(claims)
    window = ReplayWindow(app_id, user_id)
    check = verify_call_token_any_tool_type(raw, app_id, user_id, list(keys), window)
    try:
        return _run_without_suspending(check)
    except CallTokenError as exc:
        # The SDK's messages may end in a pydantic report quoting claim values.
        raise CallTokenRejected(str(exc).split(":", 1)[0]) from None


def kernel_claims(raw):
    """Return ``(call_id, FanOutScope or None)`` that the kernel signed into a
    token :func:`verify` accepted (``("", None)`` for a token without them);
    raise CallTokenRejected for malformed ones."""
    try:
        return kernel_claims_of(_claimed_payload(raw))
    except ValueError as exc:
        raise CallTokenRejected(str(exc)) from None


def check_lifetime(claims, now):
    """Return None when a token's claimed ``iat`` and ``exp`` may be verified.

    Both must be integers, and the token may live at most max_lifetime()
    seconds after its ``iat`` and after ``now``. A payload that is not a JSON
    object is left to the SDK (which names it malformed). Raises
    CallTokenRejected; no I/O happens before this.
    """
    if not claims:
        return
    iat, exp = claims.get("iat"), claims.get("exp")
    if not (_is_int(iat) and _is_int(exp)):
        raise CallTokenRejected(
            "call token iat and exp must be integers (Unix seconds)"
        )
    limit = max_lifetime()
    lifetime = max(exp - iat, exp - now)
    if lifetime > limit:
        raise CallTokenRejected(
            f"call token lifetime {str(lifetime)[:24]} s is over the limit of "
            f"{limit} s (IMPERAL_CALL_TOKEN_MAX_LIFETIME)"
        )


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _claimed_payload(raw):
    """Return the unverified payload of a raw token as a dict, or {}."""
    try:
        payload = raw.split(".", 1)[0]
        claims = json.loads(
            base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        )
    except (ValueError, binascii.Error, UnicodeDecodeError, RecursionError):
        return {}
    return claims if isinstance(claims, dict) else {}


def _claimed_identity(claims):
    """Return (app_id, user_id) as the unverified payload states them, or ("", "")."""
    app_id, user_id = claims.get("app_id"), claims.get("user_id")
    if not isinstance(app_id, str) or not isinstance(user_id, str):
        return "", ""
    return app_id, user_id


def _run_without_suspending(coroutine):
    """Run a coroutine that never awaits real I/O (ReplayWindow does none) to its end."""
    try:
        coroutine.send(None)
    except StopIteration as stop:
        return stop.value
    coroutine.close()
    raise RuntimeError("call-token verification suspended; it must not")
