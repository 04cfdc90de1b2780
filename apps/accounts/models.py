"""The platform's users and their API tokens."""

import hashlib
import secrets

from django.contrib.auth.models import AbstractUser, UserManager
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from .ids import InvalidUserId, check_user_id

SYSTEM_ID = "__system__"
# The identity of @ext.webhook handlers: no user's, so like the system's it may
# address users (ctx.store.for_user(uid), as imperal-sdk's docstrings describe).
WEBHOOK_ID = "__webhook__"
PRIVILEGED_IDS = frozenset({SYSTEM_ID, WEBHOOK_ID})


class PlatformUserManager(UserManager):
    def get_or_create_for_imperal_id(self, imperal_id, tenant_id="default"):
        """Return (user, created) for ``imperal_id``, creating a plain user if needed."""
        return self.get_or_create(
            imperal_id=imperal_id,
            defaults={"username": imperal_id, "tenant_id": tenant_id},
        )


class User(AbstractUser):
    """A person (or operator) who uses extensions; staff users are operators."""

    imperal_id = models.CharField(
        max_length=128,
        unique=True,
        help_text="Stable identity every per-user partition is keyed by.",
    )
    tenant_id = models.CharField(
        max_length=64,
        default="default",
        db_index=True,
        help_text="Tenant the user belongs to; part of every partition key.",
    )
    agency_id = models.CharField(
        max_length=64,
        blank=True,
        default="",
        help_text="Agency (white-label reseller) the user belongs to, if any.",
    )
    role = models.CharField(
        max_length=32,
        default="user",
        help_text="Role handed to extensions in ctx.user.role.",
    )
    scopes = models.JSONField(
        default=list,
        blank=True,
        help_text="Scopes handed to extensions in ctx.user.scopes.",
    )

    objects = PlatformUserManager()

    def clean(self):
        """Refuse a new user's malformed imperal_id (or the username that stands
        in for it) as a form error of the admin's add form.

        Raises ValidationError. An existing user's imperal_id is read-only.
        """
        super().clean()
        if not self._state.adding:
            return
        try:
            check_user_id(self.imperal_id or self.username, "imperal_id")
        except InvalidUserId as exc:
            raise ValidationError({"imperal_id": str(exc)}) from None

    def save(self, *args, **kwargs):
        """Save the user; raise ValueError for a reserved or malformed imperal_id.

        The id is checked whenever it is written (a new user, or a save that
        does not leave it out of ``update_fields``): an account made before the
        rule still logs in (Django saves ``last_login`` alone).
        """
        if not self.imperal_id:
            self.imperal_id = self.username
        if self.imperal_id in PRIVILEGED_IDS:
            raise ValueError(
                f"{self.imperal_id!r} is reserved for a platform identity "
                f"(reserved: {sorted(PRIVILEGED_IDS)})"
            )
        update_fields = kwargs.get("update_fields")
        if update_fields is None or "imperal_id" in update_fields:
            check_user_id(self.imperal_id, "imperal_id")
        super().save(*args, **kwargs)

    def __str__(self):
        return self.imperal_id


def hash_token(raw):
    """Return the stored form of a raw token (SHA-256 hex); raw tokens are never stored."""
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet):
    def active(self, now=None):
        """Tokens neither revoked nor expired (at ``now``, default the current time)."""
        now = now or timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )

    def with_prefix(self, prefix):
        """Tokens whose display prefix starts with ``prefix`` (what --list shows)."""
        return self.filter(display_prefix__startswith=prefix)


class ApiToken(models.Model):
    """An end-user API token; only its hash and a display prefix are stored."""

    PREFIX = "imp_u_"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    token_hash = models.CharField(max_length=64, unique=True)
    display_prefix = models.CharField(
        max_length=16, help_text="First characters, for humans."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="Refused from this time on; empty: never."
    )

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        permissions = [
            (
                "act_for_users",
                "Can call extensions as any user (Imperal's call route)",
            )
        ]

    @classmethod
    def issue(cls, user, expires_at=None):
        """Create a token for ``user``; return (token row, raw token shown once).

        ``expires_at`` (an aware datetime, None for never) is when it stops working.
        """
        raw = cls.PREFIX + secrets.token_urlsafe(32)
        row = cls.objects.create(
            user=user,
            token_hash=hash_token(raw),
            display_prefix=raw[:12],
            expires_at=expires_at,
        )
        return row, raw

    def state(self, now=None):
        """Return "active", "revoked" or "expired" (at ``now``)."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= (now or timezone.now()):
            return "expired"
        return "active"

    def __str__(self):
        return f"{self.display_prefix}… ({self.user})"


class SecurityEventQuerySet(models.QuerySet):
    def of_kind(self, kind):
        return self.filter(kind=kind)

    def attempts(self):
        """Return the number of attempts the rows stand for (each row counts repeats)."""
        return self.aggregate(total=models.Sum("count"))["total"] or 0


class SecurityEvent(models.Model):
    """Refused cross-partition attempts (I-STORE-THREAT-COUNTER-1); any row is an incident.

    Repeats of one kind by one identity within one interval share a row:
    ``count`` says how many there were (see apps.accounts.security).
    """

    created_at = models.DateTimeField(
        auto_now_add=True, db_index=True, help_text="First attempt of the interval."
    )
    last_seen_at = models.DateTimeField(
        null=True, blank=True, help_text="Latest attempt of the interval."
    )
    kind = models.CharField(
        max_length=64, db_index=True, help_text="e.g. as_user_from_user_context"
    )
    tenant_id = models.CharField(max_length=64)
    app_id = models.CharField(max_length=128)
    user_id = models.CharField(
        max_length=128, help_text="Identity that made the attempt."
    )
    detail = models.JSONField(
        default=dict,
        blank=True,
        help_text="What the first attempt asked for (bounded).",
    )
    count = models.PositiveIntegerField(
        default=1, help_text="Attempts of this kind by this identity in the interval."
    )
    bucket = models.BigIntegerField(
        default=0, help_text="Interval number (epoch seconds // interval)."
    )

    objects = SecurityEventQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "tenant_id", "app_id", "user_id", "bucket"],
                name="security_event_one_row_per_interval",
            )
        ]

    def __str__(self):
        return f"{self.kind} by {self.user_id} in {self.app_id} (×{self.count})"
