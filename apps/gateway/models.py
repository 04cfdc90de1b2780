"""Service tokens: the credentials out-of-process extensions reach the gateway with."""

from django.db import models
from django.db.models import Q

from apps.accounts.models import SYSTEM_ID

EXTENSION_WIDE = ""


class ServiceTokenQuerySet(models.QuerySet):
    def usable(self, now):
        """Tokens neither revoked nor past their expiry at ``now``."""
        return self.filter(revoked_at__isnull=True).filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=now)
        )

    def of(self, app_id, tenant_id, user_id):
        """Tokens of one (extension, tenant, bound user) — the unit a rotation retires."""
        return self.filter(app_id=app_id, tenant_id=tenant_id, user_id=user_id)


class ServiceToken(models.Model):
    """A gateway credential for one extension; only its SHA-256 and a prefix are stored.

    Extension-wide (``user_id`` blank) it may act for any user of the extension;
    bound to a user (or to ``"__system__"``) it acts only as that identity.
    """

    PREFIX = "imp_s_"

    app_id = models.CharField(max_length=128, db_index=True)
    tenant_id = models.CharField(max_length=64, default="default")
    user_id = models.CharField(
        max_length=128,
        blank=True,
        default=EXTENSION_WIDE,
        help_text=f"Blank: extension-wide. A user id (or {SYSTEM_ID!r}): bound to it.",
    )
    token_hash = models.CharField(max_length=64, unique=True)
    display_prefix = models.CharField(
        max_length=16, help_text="First characters of the token, for humans."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Set when a newer token replaced this one: the end of its grace.",
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ServiceTokenQuerySet.as_manager()

    class Meta:
        ordering = ["app_id", "user_id", "-created_at"]

    @property
    def is_extension_wide(self):
        return self.user_id == EXTENSION_WIDE

    def status(self, now):
        """Return "revoked", "expired", "rotating" (in its grace period) or "active"."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None:
            return "expired" if self.expires_at <= now else "rotating"
        return "active"

    def __str__(self):
        return f"{self.display_prefix}… ({self.app_id}/{self.user_id or '*'})"
