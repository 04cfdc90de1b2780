"""The API's credentials: ``Authorization: Token <raw>`` and the browser's session.

A token authenticates as its user (``request.auth`` is the ApiToken row);
a revoked or expired token, or one of an inactive user, is refused with 401.
The session is Django's, with DRF's CSRF check on unsafe methods.
"""

import datetime

from django.db.models import Q
from django.utils import timezone
from rest_framework.authentication import (
    BaseAuthentication,
    SessionAuthentication,
    get_authorization_header,
)
from rest_framework.exceptions import AuthenticationFailed

from apps.accounts.models import ApiToken, hash_token
from apps.common.http import authorization_credential

TOKEN_SCHEME = "Token"
TOKEN_MAX_CHARS = 200
# last_used_at is written at most this often per token: one UPDATE a minute,
# not one per request.
LAST_USED_RESOLUTION = datetime.timedelta(seconds=60)


class ApiTokenAuthentication(BaseAuthentication):
    """``Authorization: Token imp_u_…`` (made by ``manage.py user_token``)."""

    def authenticate(self, request):
        raw = authorization_credential(request, TOKEN_SCHEME)
        if raw is None:
            _refuse_other_scheme(request)
            return None
        if len(raw) > TOKEN_MAX_CHARS:
            raise AuthenticationFailed("unknown API token")
        row = (
            ApiToken.objects.select_related("user")
            .filter(token_hash=hash_token(raw))
            .first()
        )
        if row is None:
            raise AuthenticationFailed("unknown API token")
        now = timezone.now()
        state = row.state(now)
        if state != "active":
            raise AuthenticationFailed(f"API token {row.display_prefix}… is {state}")
        if not row.user.is_active:
            raise AuthenticationFailed("the API token's user is inactive")
        _touch(row, now)
        return row.user, row

    def authenticate_header(self, request):
        return f'{TOKEN_SCHEME} realm="imperal-api"'


def _refuse_other_scheme(request):
    """Raise AuthenticationFailed with a hint when ``Authorization`` names another scheme."""
    scheme = get_authorization_header(request).split(b" ", 1)[0]
    if scheme:
        named = scheme.decode("latin-1")[:20]
        raise AuthenticationFailed(
            f"Authorization: {named} is not a scheme of this API; send "
            f"'Authorization: {TOKEN_SCHEME} <token>' with a token from "
            "'manage.py user_token UID'"
        )


# The admin's login session; DRF's check asks unsafe methods for the CSRF token.
SESSION = SessionAuthentication


def _touch(row, now):
    stale = now - LAST_USED_RESOLUTION
    ApiToken.objects.filter(pk=row.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=stale)
    ).update(last_used_at=now)
