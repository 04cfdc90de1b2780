"""The registry mirrored into the database, and what the kernel records at run time."""

from django.db import models


class Outcome(models.TextChoices):
    """How one handler run ended (a schedule run records the same values)."""

    SUCCESS = "success", "success"
    FAILED = "failed", "failed"
    TIMEOUT = "timeout", "timeout"


def _declared(help_text):
    """Return a field for what sync_extensions read off the extension: a JSON list."""
    return models.JSONField(default=list, blank=True, help_text=help_text)


class ExtensionQuerySet(models.QuerySet):
    def loaded(self):
        """Extensions present in this deployment's registry."""
        return self.filter(loaded=True)

    def disabled(self):
        """Extensions the operator switched off."""
        return self.filter(enabled=False)

    def disabled_app_ids(self):
        """Return the app ids of the extensions the operator switched off."""
        return self.disabled().values_list("app_id", flat=True)

    def is_disabled(self, app_id):
        """Return True when the operator switched extension ``app_id`` off."""
        return self.disabled().filter(app_id=app_id).exists()


class Extension(models.Model):
    """One extension as the registry last saw it; ``enabled`` is the operator's switch."""

    app_id = models.CharField(max_length=128, unique=True)
    display_name = models.CharField(max_length=200, blank=True, default="")
    description = models.TextField(blank=True, default="")
    version = models.CharField(max_length=64, blank=True, default="")
    enabled = models.BooleanField(
        default=True,
        help_text="Operator switch; a disabled extension's tools refuse to run.",
    )
    loaded = models.BooleanField(
        default=True, help_text="False when the extension vanished from the registry."
    )
    entry = models.CharField(
        max_length=500,
        blank=True,
        default="",
        help_text="IMPERAL_EXTENSIONS entry that defines it.",
    )
    runtime = models.CharField(
        max_length=16,
        choices=[("in-process", "in-process"), ("isolated", "isolated")],
        default="in-process",
        help_text=(
            "Where its handlers run: in the platform's processes, or isolated in "
            "worker processes of its own (IMPERAL_EXTENSION_RUNTIME)."
        ),
    )
    tools = _declared("[{name, description, scopes, params}]")
    chat_functions = _declared(
        "[{name, description, action_type, params}] of its @chat.function"
    )
    panels = _declared("[{panel_id, slot, title, params}]")
    schedules = _declared("[{name, cron}]")
    cache_models = _declared("Registered cache model names.")
    skeleton_sections = _declared("[{section, ttl, alert}] of its @ext.skeleton")
    webhooks = _declared("[{path, method, url}] of its @ext.webhook")
    lifecycle_hooks = _declared("Declared lifecycle hooks (on_install, …).")
    unserved = _declared(
        "[{feature, names, reason}]: declared features this platform does not serve."
    )
    first_seen_at = models.DateTimeField(auto_now_add=True)
    synced_at = models.DateTimeField(auto_now=True)

    objects = ExtensionQuerySet.as_manager()

    class Meta:
        ordering = ["app_id"]

    def __str__(self):
        return self.app_id

    @classmethod
    def from_db(cls, db, field_names, values):
        # Remember the stored switch: saving a changed ``enabled`` runs the
        # extension's on_enable/on_disable (a post_save receiver in lifecycle).
        row = super().from_db(db, field_names, values)
        row._stored_enabled = row.__dict__.get("enabled")
        return row


from .records import (  # noqa: E402  (registered with this app; see records.py)
    ExtensionHealth,
    Installation,
    LifecycleRun,
    SkeletonSection,
    WebhookCall,
)

__all__ = [
    "Extension",
    "ExtensionHealth",
    "Installation",
    "LifecycleRun",
    "Outcome",
    "SkeletonSection",
    "WebhookCall",
]
