"""The operator's limits set in the admin, and the usage counters kept incrementally."""

from django.core.exceptions import ValidationError
from django.db import models
from imperal_sdk.manifest_schema import APP_ID_PATTERN

from apps.accounts.ids import is_valid_user_id
from apps.accounts.partition import PartitionKeyed, one_per_partition

from .config import EVERY_EXTENSION, LIMIT_RULE, check_limit
from .kinds import KINDS

KIND_CHOICES = [(name, name) for name in KINDS]


class QuotaLimitQuerySet(models.QuerySet):
    def for_extension(self, app_id):
        """Limits of one extension, its users' own values included."""
        return self.filter(app_id=app_id)


class QuotaLimit(models.Model):
    """One limit an operator set: for every user of an extension (``user_id``
    empty), or for one user. It wins over IMPERAL_QUOTAS at the same level."""

    app_id = models.CharField(
        max_length=128, help_text="The extension's id, or * for every extension."
    )
    kind = models.CharField(max_length=32, choices=KIND_CHOICES)
    user_id = models.CharField(
        max_length=128,
        blank=True,
        default="",
        help_text="Empty: every user of the extension. Else this user's own limit.",
    )
    value = models.BigIntegerField(
        "limit",
        null=True,
        blank=True,
        help_text=f"{LIMIT_RULE[0].upper()}{LIMIT_RULE[1:]}.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    objects = QuotaLimitQuerySet.as_manager()

    class Meta:
        db_table = "quotas_limit"
        ordering = ["app_id", "kind", "user_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["app_id", "kind", "user_id"], name="quotas_limit_key"
            )
        ]

    def clean(self):
        errors = {}
        try:
            check_limit(self.value, "limit")
        except ValueError as exc:
            errors["value"] = str(exc)
        if self.app_id != EVERY_EXTENSION and not APP_ID_PATTERN.match(self.app_id):
            errors["app_id"] = f"an extension id matches {APP_ID_PATTERN.pattern}, or *"
        if self.user_id and not is_valid_user_id(self.user_id):
            errors["user_id"] = "not a valid user id"
        elif self.user_id and self.app_id == "*":
            errors["user_id"] = "a user's own limit belongs to one extension"
        if errors:
            raise ValidationError(errors)

    def __str__(self):
        who = self.user_id or "every user"
        return f"{self.app_id} {self.kind} ({who}): {self.value}"


class Usage(PartitionKeyed):
    """What one partition used of one kind in one window (``""``: held now,
    ``YYYY-MM-DD``: that UTC day), added to and taken from atomically by
    :mod:`apps.quotas.counters`, never recounted by a scan (but
    ``reconcile_quotas``)."""

    kind = models.CharField(max_length=32, choices=KIND_CHOICES)
    period = models.CharField(
        max_length=16,
        blank=True,
        default="",
        help_text="Empty: held now. YYYY-MM-DD: that UTC day.",
    )
    used = models.BigIntegerField(default=0)

    class Meta:
        db_table = "quotas_usage"
        verbose_name_plural = "usage"
        constraints = [one_per_partition("quotas_usage_key", "kind", "period")]
        indexes = [
            # The console's top users of one kind in one window.
            models.Index(
                fields=["tenant_id", "app_id", "kind", "period", "used"],
                name="quotas_usage_top",
            ),
        ]

    def __str__(self):
        return f"{self.partition} {self.kind} {self.period or 'held'}: {self.used}"
