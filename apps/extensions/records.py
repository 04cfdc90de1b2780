"""What the kernel records about extensions at run time: installs, hook runs,
health, skeleton sections and webhook calls. Only the kernel writes these rows."""

from django.db import models

from apps.accounts.partition import PartitionKeyed, one_per_partition


class Installation(PartitionKeyed):
    """A user who has used an extension: claimed once, by the first invocation."""

    installed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["app_id", "user_id"]
        constraints = [one_per_partition("installation_one_per_partition")]


class LifecycleRun(models.Model):
    """One run of a lifecycle hook (on_install, on_upgrade, …, health changes).

    Written by apps.extensions.lifecycle and apps.extensions.health, whether the
    hook succeeded, failed, timed out or was skipped.
    """

    class Hook(models.TextChoices):
        INSTALL = "on_install"
        UNINSTALL = "on_uninstall"
        ENABLE = "on_enable"
        DISABLE = "on_disable"
        UPGRADE = "on_upgrade"
        HEALTH = "health_check"

    class Status(models.TextChoices):
        RUNNING = "running"
        SUCCESS = "success"
        FAILED = "failed"
        TIMEOUT = "timeout"
        SKIPPED = "skipped"

    app_id = models.CharField(max_length=128, db_index=True)
    hook = models.CharField(max_length=32, choices=Hook.choices)
    tenant_id = models.CharField(max_length=64, blank=True, default="")
    user_id = models.CharField(
        max_length=128, blank=True, default="", help_text="Whose context it ran in."
    )
    actor = models.CharField(
        max_length=150,
        blank=True,
        default="",
        help_text="Who triggered it: an operator, 'sync_extensions', 'beat', a user.",
    )
    version = models.CharField(max_length=64, blank=True, default="")
    status = models.CharField(max_length=16, choices=Status.choices)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    duration_ms = models.FloatField(default=0.0)
    started_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            # An upgrade hook runs once per (extension, version), whoever syncs.
            models.UniqueConstraint(
                fields=["app_id", "version"],
                condition=models.Q(hook="on_upgrade"),
                name="lifecycle_upgrade_once_per_version",
            )
        ]

    def __str__(self):
        return f"{self.app_id} {self.hook} {self.status}"


class ExtensionHealth(models.Model):
    """The latest health_check result of one extension (checked every 60 s)."""

    class Status(models.TextChoices):
        OK = "ok"
        DEGRADED = "degraded"
        UNHEALTHY = "unhealthy"

    app_id = models.CharField(max_length=128, unique=True)
    status = models.CharField(max_length=16, choices=Status.choices, blank=True)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    duration_ms = models.FloatField(default=0.0)
    checked_at = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField(help_text="When the next check may be claimed.")

    class Meta:
        ordering = ["app_id"]
        verbose_name_plural = "extension health"

    def __str__(self):
        return f"{self.app_id}: {self.status or 'unchecked'}"


class SkeletonSection(PartitionKeyed):
    """One user's ``@ext.skeleton`` section: its last value and refresh."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SUCCESS = "success"
        FAILED = "failed"
        TIMEOUT = "timeout"

    section = models.CharField(max_length=128)
    value = models.JSONField(
        null=True, blank=True, help_text="The refresh's last good response."
    )
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING
    )
    error = models.TextField(blank=True, default="")
    refreshed_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.FloatField(default=0.0)
    refreshes = models.PositiveIntegerField(default=0)
    due_at = models.DateTimeField(help_text="When the section is stale.")
    lease_until = models.DateTimeField(
        null=True, blank=True, help_text="Set while a refresh holds the section."
    )
    alerts = models.PositiveIntegerField(default=0)
    alerted_at = models.DateTimeField(null=True, blank=True)
    last_alert = models.JSONField(
        null=True, blank=True, help_text="What skeleton_alert_<section> last returned."
    )

    class Meta:
        ordering = ["app_id", "user_id", "section"]
        constraints = [
            one_per_partition("skeleton_section_one_per_partition", "section")
        ]
        indexes = [models.Index(fields=["app_id", "due_at"])]

    def __str__(self):
        return f"{self.app_id}/{self.user_id}/{self.section}"


class WebhookCall(models.Model):
    """One request to ``/v1/ext/{app}/webhook/{path}``; never its body or headers."""

    app_id = models.CharField(max_length=128, db_index=True)
    path = models.CharField(max_length=300)
    method = models.CharField(max_length=10)
    status_code = models.PositiveSmallIntegerField()
    body_bytes = models.PositiveIntegerField(default=0)
    duration_ms = models.FloatField(default=0.0)
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.method} {self.app_id}{self.path} → {self.status_code}"
