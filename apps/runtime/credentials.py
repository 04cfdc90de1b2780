"""The credentials of an isolated extension's worker: runtime tokens and call tokens.

A **runtime token** names one extension and lets its workers do two things
only: claim that extension's calls and answer them (``/v1/runtime/*``). It is
an HMAC of the app id under a key derived from SECRET_KEY, so every platform
host verifies it without a lookup, and it is printed for a worker on another
host by ``manage.py run_worker APP --print-token``. A **call token**
(imperal-sdk's, minted here per invocation) is what the worker's ctx reaches
the gateway's surfaces with, for that call's app and user, for its deadline.
"""

import base64
import hashlib
import hmac

from imperal_sdk.security.call_token import mint_call_token

from apps.common.signing import RUNTIME_TOKEN_LABEL, call_token_secrets, derived_key

RUNTIME_TOKEN_PREFIX = "imp_r_"
# A call token outlives its invocation's deadline by this much (clock skew,
# the reply's way back); never more than the gateway's lifetime limit.
CALL_TOKEN_SLACK_SECONDS = 30
# imperal-sdk's call tokens name one of these tool types; the kernel's other
# contexts (schedule, lifecycle, webhook, health_check) carry "tool".
SDK_TOOL_TYPES = ("skeleton", "panel", "tool", "chat_fn")


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
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def call_token_for(invocation, max_lifetime):
    """Return an imperal-sdk call token for ``invocation``'s app, user and tool type.

    It lives for the invocation's timeout plus CALL_TOKEN_SLACK_SECONDS, at
    most ``max_lifetime`` seconds (the gateway refuses longer ones).
    """
    ttl = int(min(invocation.timeout + CALL_TOKEN_SLACK_SECONDS, max_lifetime))
    tool_type = invocation.tool_type
    return mint_call_token(
        tool_type if tool_type in SDK_TOOL_TYPES else "tool",
        invocation.app_id,
        invocation.identity.user_id,
        ttl,
        call_token_secrets()[0],
    )
