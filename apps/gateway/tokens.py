"""Issue, rotate, revoke and check service tokens: every face (CLI, admin) calls these.

A raw token is ``imp_s_<urlsafe 32 bytes>``; only its SHA-256 is stored, and it
is returned once, by :func:`issue_token`.
"""

import datetime
import functools
import re
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from apps.accounts.ids import check_user_id
from apps.accounts.models import User, hash_token
from apps.common.timestamps import rfc3339
from apps.extensions.models import Extension
from apps.extensions.registry import get_registry

from .models import EXTENSION_WIDE, ServiceToken

DEFAULT_ROTATION_GRACE_SECONDS = 3600
TOUCH_INTERVAL_SECONDS = 60  # last_used_at is written at most this often per token
DISPLAY_PREFIX_CHARS = 12
TENANT_ID_MAX_CHARS = 64
_FORBIDDEN_IN_ID = re.compile(r"[\s\x00-\x1f\x7f/]")


class TokenRejected(Exception):
    """A presented token is unknown, revoked or expired; ``str()`` never holds it."""


@dataclass(frozen=True)
class IssuedToken:
    """A new token: its row, the raw token (shown once) and the tokens it retired."""

    row: ServiceToken
    raw: str
    retired: list

    def as_dict(self):
        """Return what the CLI prints: the raw token once, and no hash."""
        return {
            "app_id": self.row.app_id,
            "tenant_id": self.row.tenant_id,
            "user_id": self.row.user_id,
            "token": self.raw,
            "prefix": self.row.display_prefix,
            "created_at": rfc3339(self.row.created_at),
            "retired": [
                {"prefix": row.display_prefix, "expires_at": rfc3339(row.expires_at)}
                for row in self.retired
            ],
        }


def rotation_grace():
    """Return the grace period of a rotated-out token (IMPERAL_TOKEN_ROTATION_GRACE)."""
    seconds = getattr(
        settings, "IMPERAL_TOKEN_ROTATION_GRACE", DEFAULT_ROTATION_GRACE_SECONDS
    )
    return datetime.timedelta(seconds=seconds)


def issue_token(app_id, user_id=EXTENSION_WIDE, tenant_id=None, rotate=False):
    """Create a token for ``app_id`` (bound to ``user_id`` unless blank); return IssuedToken.

    With ``rotate`` the usable tokens of the same (extension, tenant, user) stop
    working after the rotation grace period. Raises ValueError for an extension
    the registry does not know or a malformed user or tenant id.
    """
    tenant_id = settings.IMPERAL_DEFAULT_TENANT if tenant_id is None else tenant_id
    check_identity(app_id, user_id, tenant_id)
    raw = ServiceToken.PREFIX + secrets.token_urlsafe(32)
    now = timezone.now()
    with transaction.atomic():
        retired = _retire(app_id, tenant_id, user_id, now) if rotate else []
        row = ServiceToken.objects.create(
            app_id=app_id,
            tenant_id=tenant_id,
            user_id=user_id,
            token_hash=hash_token(raw),
            display_prefix=raw[:DISPLAY_PREFIX_CHARS],
        )
    return IssuedToken(row, raw, retired)


def check_identity(app_id, user_id, tenant_id):
    """Return None when a token may be issued for this identity; raise ValueError.

    The extension must be in this deployment's registry; the user id (blank:
    extension-wide) must follow the user-id rule (apps.accounts.ids) and the
    tenant id be short and free of whitespace, control characters and '/'; a
    user with an account must be of that tenant.
    """
    _check_known_extension(app_id)
    if user_id != EXTENSION_WIDE:
        check_user_id(user_id, "user_id")
    _check_id("tenant_id", tenant_id, TENANT_ID_MAX_CHARS)
    _check_users_tenant(user_id, tenant_id)


def _retire(app_id, tenant_id, user_id, now):
    """End the usable tokens of one identity at now + grace; return them."""
    deadline = now + rotation_grace()
    rows = (
        ServiceToken.objects.of(app_id, tenant_id, user_id)
        .usable(now)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=deadline))
        .select_for_update()
    )
    retired = list(rows)
    ServiceToken.objects.filter(pk__in=[r.pk for r in retired]).update(
        expires_at=deadline
    )
    for row in retired:
        row.expires_at = deadline
    return retired


def revoke(tokens, now=None):
    """Revoke the given tokens (a queryset) now; return how many were still unrevoked."""
    return tokens.filter(revoked_at__isnull=True).update(
        revoked_at=now or timezone.now()
    )


def check_token(raw, now=None):
    """Return the usable ServiceToken for a raw token, annotated ``extension_disabled``.

    One query. Raises TokenRejected for an unknown, revoked or expired token.
    Records the use in ``last_used_at`` (at most once per TOUCH_INTERVAL_SECONDS).
    """
    now = now or timezone.now()
    found = list(ServiceToken.objects.raw(_lookup_sql(), [False, hash_token(raw)]))
    row = found[0] if found else None
    if row is None:
        raise TokenRejected("unknown service token")
    if row.revoked_at is not None:
        raise TokenRejected(f"service token {row.display_prefix}… was revoked")
    if row.expires_at is not None and row.expires_at <= now:
        raise TokenRejected(
            f"service token {row.display_prefix}… expired at "
            f"{row.expires_at.isoformat()} (it was rotated out)"
        )
    _touch(row, now)
    return row


@functools.cache
def _lookup_sql():
    """Return the token lookup as one statement, built once: it runs on every request.

    The ORM would compile the same query (with its EXISTS) on each call.
    """
    quote = connection.ops.quote_name
    token, extension = ServiceToken._meta, Extension._meta
    columns = ", ".join(f"t.{quote(f.column)}" for f in token.concrete_fields)
    return (
        f"SELECT {columns}, EXISTS (SELECT 1 FROM {quote(extension.db_table)} e "
        f"WHERE e.{quote('app_id')} = t.{quote('app_id')} "
        f"AND e.{quote('enabled')} = %s) AS extension_disabled "
        f"FROM {quote(token.db_table)} t WHERE t.{quote('token_hash')} = %s"
    )


def _touch(row, now):
    interval = datetime.timedelta(seconds=TOUCH_INTERVAL_SECONDS)
    if row.last_used_at is not None and now - row.last_used_at < interval:
        return
    ServiceToken.objects.filter(pk=row.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - interval)
    ).update(last_used_at=now)


def _check_known_extension(app_id):
    if not isinstance(app_id, str) or get_registry().get(app_id) is None:
        known = sorted(loaded.app_id for loaded in get_registry())
        raise ValueError(
            f"unknown extension {app_id!r:.140}: a service token names an extension "
            f"of this deployment's registry (IMPERAL_EXTENSIONS), one of {known}"
        )


def _check_users_tenant(user_id, tenant_id):
    # A user's data lives in their own tenant's partitions (ctx.user.tenant_id).
    tenant = (
        User.objects.filter(imperal_id=user_id)
        .values_list("tenant_id", flat=True)
        .first()
    )
    if tenant is not None and tenant != tenant_id:
        raise ValueError(
            f"user {user_id!r} belongs to tenant {tenant!r}, not {tenant_id!r}: a "
            f"token bound to them is issued for their tenant (--tenant {tenant})"
        )


def _check_id(name, value, max_chars):
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string, got {value!r:.80}")
    if len(value) > max_chars or _FORBIDDEN_IN_ID.search(value):
        raise ValueError(
            f"{name} must be at most {max_chars} characters without whitespace, "
            f"control characters or '/', got {value!r:.80}"
        )
