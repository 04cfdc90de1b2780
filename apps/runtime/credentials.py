"""The credentials of an isolated extension's worker: runtime tokens and call tokens.

A **runtime token** names one extension and lets its workers do two things
only: claim that extension's calls and answer them (``/v1/runtime/*``). It is
an HMAC of the app id under a key derived from SECRET_KEY, so every platform
host verifies it without a lookup, and it is printed for a worker on another
host by ``manage.py run_worker APP --print-token``. A **call token**
(imperal-sdk's, minted here per invocation) is what the worker's ctx reaches
the gateway's surfaces with, for that call's app and user, for its deadline.

Beside imperal-sdk's claims, a call token the kernel mints carries the
kernel's own under KERNEL_CLAIM, signed with the rest: the invocation's call
id (which its ``ctx.progress`` reports are kept under) and, for a schedule's
fire, its FanOutScope (the ledger's run, the shard, whether it resumes). The
SDK's verification ignores claims it does not know; the gateway reads these
only from a token it verified, so a worker cannot widen them.
"""

import base64
import hashlib
import hmac
import json
import secrets
import time

from imperal_sdk.security.call_token import CallTokenClaims

from apps.common.signing import RUNTIME_TOKEN_LABEL, call_token_secrets, derived_key

from .worker.envelope import FanOutScope

RUNTIME_TOKEN_PREFIX = "imp_r_"
# A call token outlives its invocation's deadline by this much (clock skew,
# the reply's way back); never more than the gateway's lifetime limit.
CALL_TOKEN_SLACK_SECONDS = 30
# imperal-sdk's call tokens name one of these tool types; the kernel's other
# contexts (schedule, lifecycle, webhook, health_check) carry "tool".
SDK_TOOL_TYPES = ("skeleton", "panel", "tool", "chat_fn")
KERNEL_CLAIM = "imperal_kernel"
CALL_ID_MAX_CHARS = 64


class RuntimeTokenRejected(Exception):
    """A runtime token is malformed or not the platform's; ``str()`` never holds it."""


def runtime_token(app_id):
    """Return the runtime token of extension ``app_id``."""
    return f"{RUNTIME_TOKEN_PREFIX}{app_id}.{_signature(app_id)}"


def app_of_runtime_token(raw):
    """Return the app id a runtime token was issued for; raise RuntimeTokenRejected."""
    if not isinstance(raw, str) or not raw.startswith(RUNTIME_TOKEN_PREFIX):
        raise RuntimeTokenRejected("not a runtime token")
    app_id, dot, signature = raw[len(RUNTIME_TOKEN_PREFIX) :].rpartition(".")
    if not dot or not app_id or len(raw) > 300:
        raise RuntimeTokenRejected("malformed runtime token")
    if not hmac.compare_digest(signature, _signature(app_id)):
        raise RuntimeTokenRejected("unknown runtime token")
    return app_id


def _signature(app_id):
    digest = hmac.new(
        derived_key(RUNTIME_TOKEN_LABEL), app_id.encode(), hashlib.sha256
    ).digest()
    return _b64(digest)


def call_token_for(invocation, max_lifetime):
    """Return an imperal-sdk call token for ``invocation``'s app, user and tool type,
    carrying the kernel's claims (its call id and fan-out scope).

    It lives for the invocation's timeout plus CALL_TOKEN_SLACK_SECONDS, at
    most ``max_lifetime`` seconds (the gateway refuses longer ones).
    """
    ttl = int(min(invocation.timeout + CALL_TOKEN_SLACK_SECONDS, max_lifetime))
    tool_type = invocation.tool_type
    now = int(time.time())
    claims = CallTokenClaims(
        tool_type=tool_type if tool_type in SDK_TOOL_TYPES else "tool",
        app_id=invocation.app_id,
        user_id=invocation.identity.user_id,
        iat=now,
        exp=now + ttl,
        jti=secrets.token_urlsafe(16),
    ).model_dump()
    fan_out = invocation.fan_out.as_dict() if invocation.fan_out else None
    claims[KERNEL_CLAIM] = {"call_id": invocation.call_id, "fan_out": fan_out}
    # imperal-sdk's token format: its canonical JSON payload, HMAC-SHA256 signed.
    payload = json.dumps(claims, sort_keys=True, separators=(",", ":")).encode()
    signature = hmac.new(call_token_secrets()[0], payload, hashlib.sha256).digest()
    return f"{_b64(payload)}.{_b64(signature)}"


def kernel_claims_of(claims):
    """Return ``(call_id, FanOutScope or None)`` of a verified token's payload.

    A token without kernel claims (minted by someone other than this kernel)
    gives ``("", None)``. Raises ValueError for malformed ones.
    """
    kernel = claims.get(KERNEL_CLAIM)
    if kernel is None:
        return "", None
    call_id = kernel.get("call_id") if isinstance(kernel, dict) else None
    if not isinstance(call_id, str) or not 0 < len(call_id) <= CALL_ID_MAX_CHARS:
        raise ValueError("malformed kernel claims in the call token")
    return call_id, FanOutScope.of(kernel.get("fan_out"))


def _b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
