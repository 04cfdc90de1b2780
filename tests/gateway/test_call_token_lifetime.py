"""A call token lives for one invocation: its iat and exp are integers and it lives
at most IMPERAL_CALL_TOKEN_MAX_LIFETIME seconds, checked before any I/O.

The tokens here are signed with the deployment's own secret, as a kernel (or
anyone holding the secret) would mint them: only the lifetime rule refuses them.
"""

import base64
import hashlib
import hmac
import json
import secrets
import time

import pytest
from django.core.cache import cache

from apps.gateway import calltokens
from apps.store.models import Document

from .conftest import APP, STORE_PATH, error_of

YEAR = 365 * 24 * 3600


def signed(**changes):
    """Return (token, jti): a call token of alice in APP, signed, with ``changes``."""
    now = int(time.time())
    claims = {
        "tool_type": "tool",
        "app_id": APP,
        "user_id": "alice",
        "iat": now,
        "exp": now + 60,
        "jti": secrets.token_urlsafe(16),
        **changes,
    }
    payload = json.dumps(claims, sort_keys=True, separators=(",", ":")).encode()
    secret = calltokens.call_token_secrets()[0]
    signature = hmac.new(secret, payload, hashlib.sha256).digest()
    token = b".".join(
        base64.urlsafe_b64encode(part).rstrip(b"=") for part in (payload, signature)
    ).decode()
    return token, claims["jti"]


def replay_record(jti):
    return cache.get(f"imperal:calltoken:jti:{jti}")


def create(gateway, token):
    body = {"collection": "notes", "data": {"x": 1}, "user_id": "alice"}
    return gateway.post(STORE_PATH, body, call=token)


@pytest.mark.parametrize(
    "changes, fragment",
    [
        ({"exp": int(time.time()) + 2**62}, "is over the limit of 3600 s"),
        ({"exp": int(time.time()) + 10 * YEAR}, "is over the limit of 3600 s"),
        ({"iat": int(time.time()) - 10 * YEAR}, "is over the limit of 3600 s"),
        ({"iat": int(time.time()) + YEAR, "exp": int(time.time()) + YEAR + 60},
         "is over the limit of 3600 s"),
        ({"exp": 10**400}, "is over the limit of 3600 s"),
        ({"exp": float(int(time.time()) + 60)}, "iat and exp must be integers"),
        ({"exp": str(int(time.time()) + 60)}, "iat and exp must be integers"),
        ({"iat": True}, "iat and exp must be integers"),
        ({"exp": None}, "iat and exp must be integers"),
    ],
    ids=["exp-2**62", "ten-years", "issued-ten-years-ago", "issued-in-a-year",
         "exp-400-digits", "float-exp", "string-exp", "bool-iat", "no-exp"],
)  # fmt: skip
def test_a_signed_call_token_living_too_long_is_401_before_any_io(
    gateway, registry, settings, changes, fragment
):
    settings.IMPERAL_CALL_TOKEN_MAX_LIFETIME = 3600
    token, jti = signed(**changes)
    response = create(gateway, token)
    assert response.status_code == 401, response.content
    error = error_of(response)
    assert error["code"] == "unauthenticated"
    assert error["message"].startswith("call token rejected: call token")
    assert fragment in error["message"]
    assert "Traceback" not in response.content.decode()
    assert replay_record(jti) is None  # the replay store was never written
    assert not Document.objects.exists()


def test_a_call_token_within_the_limit_is_accepted(gateway, registry, settings):
    """The control: the same request with a token inside the limit writes."""
    settings.IMPERAL_CALL_TOKEN_MAX_LIFETIME = 3600
    token, jti = signed(exp=int(time.time()) + 3600)
    assert create(gateway, token).status_code == 201
    assert replay_record(jti) is not None
    assert Document.objects.count() == 1


def test_the_limit_is_the_setting(gateway, registry, settings):
    settings.IMPERAL_CALL_TOKEN_MAX_LIFETIME = 30
    token, _ = signed()  # lives 60 s
    response = create(gateway, token)
    assert response.status_code == 401
    assert "lifetime 60 s is over the limit of 30 s" in error_of(response)["message"]
    assert "IMPERAL_CALL_TOKEN_MAX_LIFETIME" in error_of(response)["message"]
