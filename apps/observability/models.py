"""A failure answered with an error id, with what an operator needs to find its cause."""

from django.db import models
from django.utils import timezone


class RecordedError(models.Model):
    """One failure a caller saw only as an error id: its traceback and where it
    happened. Written by apps.observability.recording, never edited."""

    class Kind(models.TextChoices):
        HANDLER_FAILED = "handler_failed", "handler failed"
        INTERNAL = "internal", "internal error"

    error_id = models.CharField(
        max_length=32, unique=True, help_text="The id the caller's answer named."
    )
    kind = models.CharField(max_length=32, choices=Kind.choices)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    request_id = models.CharField(
        max_length=128,
        blank=True,
        default="",
        db_index=True,
        help_text="X-Request-ID of the request (every log line of it carries it).",
    )
    route = models.CharField(
        max_length=200, blank=True, default="", help_text="URL pattern name."
    )
    method = models.CharField(max_length=16, blank=True, default="")
    tenant_id = models.CharField(max_length=64, blank=True, default="")
    user_id = models.CharField(
        max_length=128, blank=True, default="", help_text="Who called, or ran as."
    )
    app_id = models.CharField(max_length=128, blank=True, default="")
    handler = models.CharField(
        max_length=128,
        blank=True,
        default="",
        help_text="Tool, chat function or panel.",
    )
    exception_type = models.CharField(max_length=200)
    message = models.TextField(
        blank=True,
        default="",
        help_text="For operators only: the caller saw the error id, never this.",
    )
    traceback = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["tenant_id", "-created_at"], name="recorded_error_tenant"
            )
        ]

    def __str__(self):
        return f"error {self.error_id} ({self.exception_type})"
