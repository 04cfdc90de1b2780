"""The registry mirrored into the database."""

from django.db import models


class Outcome(models.TextChoices):
    """How one handler run ended (a schedule run records the same values)."""

    SUCCESS = "success", "success"
    FAILED = "failed", "failed"
    TIMEOUT = "timeout", "timeout"


class ExtensionQuerySet(models.QuerySet):
    def loaded(self):
        """Extensions present in this deployment's registry."""
        return self.filter(loaded=True)


class Extension(models.Model):
    """One extension as the registry last saw it; ``enabled`` is the operator's switch."""

    app_id = models.CharField(max_length=128, unique=True)
    display_name = models.CharField(max_length=200, blank=True, default="")
    description = models.TextField(blank=True, default="")
    version = models.CharField(max_length=64, blank=True, default="")
    entry = models.CharField(
        max_length=500,
        blank=True,
        default="",
        help_text="IMPERAL_EXTENSIONS entry that defines it.",
    )
    enabled = models.BooleanField(
        default=True,
        help_text="Operator switch; a disabled extension's tools refuse to run.",
    )
    loaded = models.BooleanField(
        default=True, help_text="False when the extension vanished from the registry."
    )
    tools = models.JSONField(
        default=list, blank=True, help_text="[{name, description, scopes, params}]"
    )
    chat_functions = models.JSONField(
        default=list,
        blank=True,
        help_text="[{name, description, action_type, params}] of its @chat.function",
    )
    panels = models.JSONField(
        default=list, blank=True, help_text="[{panel_id, slot, title, params}]"
    )
    schedules = models.JSONField(default=list, blank=True, help_text="[{name, cron}]")
    cache_models = models.JSONField(
        default=list, blank=True, help_text="Registered cache model names."
    )
    first_seen_at = models.DateTimeField(auto_now_add=True)
    synced_at = models.DateTimeField(auto_now=True)

    objects = ExtensionQuerySet.as_manager()

    class Meta:
        ordering = ["app_id"]

    def __str__(self):
        return self.app_id
