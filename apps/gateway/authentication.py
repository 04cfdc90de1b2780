"""DRF authentication, one class per credential kind, and the gateway's permission.

Each class returns ``(GatewayIdentity, None)``, None when its credential is
absent, or raises AuthenticationFailed (401) with a message that never holds
the credential.
"""

from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed, NotAuthenticated
from rest_framework.permissions import BasePermission

from apps.common.http import authorization_credential
from apps.extensions.errors import ExtensionDisabled

from . import calltokens, tokens
from .identity import GatewayIdentity
from .lookups import extension_disabled, tenant_of
from .models import ServiceToken

SERVICE_TOKEN_MAX_CHARS = 200
CALL_TOKEN_SCHEME = "ImperalCallToken"
BEARER_SCHEME = "Bearer"
CREDENTIALS_HINT = (
    "send a service token (X-Service-Token, or Authorization: Bearer on "
    "/v1/internal/notify) or a call token (Authorization: ImperalCallToken …)"
)


def identity_for_service_token(raw):
    """Return the GatewayIdentity of a raw service token; raise AuthenticationFailed."""
    if len(raw) > SERVICE_TOKEN_MAX_CHARS:
        raise AuthenticationFailed("unknown service token")
    try:
        row = tokens.check_token(raw)
    except tokens.TokenRejected as exc:
        raise AuthenticationFailed(str(exc)) from None
    if row.extension_disabled:
        raise ExtensionDisabled(row.app_id)
    return GatewayIdentity(
        kind="service_token",
        tenant_id=row.tenant_id,
        app_id=row.app_id,
        user_id=row.user_id,
        credential=f"service token {row.display_prefix}…",
    )


class ServiceTokenAuthentication(BaseAuthentication):
    """``X-Service-Token: imp_s_…`` (an empty header is no credential)."""

    def authenticate(self, request):
        raw = request.META.get("HTTP_X_SERVICE_TOKEN", "").strip()
        if not raw:
            return None
        return identity_for_service_token(raw), None

    def authenticate_header(self, request):
        return 'X-Service-Token realm="imperal-gateway"'


class BearerServiceTokenAuthentication(BaseAuthentication):
    """``Authorization: Bearer imp_s_…``: how imperal-sdk's NotifyClient sends it."""

    def authenticate(self, request):
        raw = authorization_credential(request, BEARER_SCHEME)
        if raw is None:
            return None
        return identity_for_service_token(raw), None

    def authenticate_header(self, request):
        return 'Bearer realm="imperal-gateway"'


def identity_for_call_token(raw):
    """Return the GatewayIdentity of a raw call token; raise AuthenticationFailed.

    The tenant is the user's (IMPERAL_DEFAULT_TENANT for an id without a row);
    the call id and fan-out scope are the kernel's claims in the token.
    """
    try:
        claims = calltokens.verify(raw)
        call_id, fan_out = calltokens.kernel_claims(raw)
    except calltokens.CallTokenRejected as exc:
        raise AuthenticationFailed(f"call token rejected: {exc}") from None
    if extension_disabled(claims.app_id):
        raise ExtensionDisabled(claims.app_id)
    return GatewayIdentity(
        kind="call_token",
        tenant_id=tenant_of(claims.user_id),
        app_id=claims.app_id,
        user_id=claims.user_id,
        credential=f"call token {claims.jti[:6]}… ({claims.tool_type})",
        call_id=call_id,
        fan_out=fan_out,
        token_id=claims.jti,
        expires_at=claims.exp,
    )


class CallTokenAuthentication(BaseAuthentication):
    """``Authorization: ImperalCallToken …``: one invocation's app and user."""

    def authenticate(self, request):
        raw = authorization_credential(request, CALL_TOKEN_SCHEME)
        if raw is None:
            return None
        return identity_for_call_token(raw), None

    def authenticate_header(self, request):
        return f'{CALL_TOKEN_SCHEME} realm="imperal-gateway"'


class BearerCallTokenAuthentication(BaseAuthentication):
    """``Authorization: Bearer <call token>``: how imperal-sdk's SecretClient sends
    the token it was given. A Bearer service token (``imp_s_…``) is left to
    BearerServiceTokenAuthentication."""

    def authenticate(self, request):
        raw = authorization_credential(request, BEARER_SCHEME)
        if raw is None or raw.startswith(ServiceToken.PREFIX):
            return None
        return identity_for_call_token(raw), None

    def authenticate_header(self, request):
        return 'Bearer realm="imperal-gateway"'


class HasGatewayIdentity(BasePermission):
    """Allow requests a gateway credential authenticated; 401 for anything else."""

    def has_permission(self, request, view):
        if isinstance(request.user, GatewayIdentity):
            return True
        raise NotAuthenticated(f"no gateway credential: {CREDENTIALS_HINT}")
