"""Notifications extensions send to their users through ctx.notify."""

from django.db import models


class NotificationQuerySet(models.QuerySet):
    def for_user(self, tenant_id, user_id):
        """Every notification of one user, across extensions."""
        return self.filter(tenant_id=tenant_id, user_id=user_id)

    def in_partition(self, partition):
        return self.filter(
            tenant_id=partition.tenant_id,
            app_id=partition.app_id,
            user_id=partition.user_id,
        )

    def unread(self):
        return self.filter(read_at__isnull=True)


class Notification(models.Model):
    """One message to one user from one extension, and how its delivery went."""

    class Priority(models.TextChoices):
        LOW = "low", "low"
        NORMAL = "normal", "normal"
        HIGH = "high", "high"
        URGENT = "urgent", "urgent"

    class Channel(models.TextChoices):
        """The channels this platform delivers; any other is stored as unsupported."""

        IN_APP = "in_app", "in app"
        EMAIL = "email", "email"

    class Status(models.TextChoices):
        DELIVERED = "delivered", "delivered"
        FAILED = "failed", "failed"
        UNSUPPORTED = "unsupported", "channel not supported here"

    tenant_id = models.CharField(max_length=64)
    app_id = models.CharField(max_length=128)
    user_id = models.CharField(max_length=128, help_text="imperal_id of the recipient.")
    message = models.TextField()
    # No choices: a channel without transport here (telegram, …) is kept as sent.
    channel = models.CharField(max_length=32, default=Channel.IN_APP)
    priority = models.CharField(
        max_length=16, choices=Priority.choices, default=Priority.NORMAL
    )
    subject = models.CharField(max_length=255, blank=True, default="")
    body = models.TextField(blank=True, default="")
    extra = models.JSONField(
        default=dict, blank=True, help_text="Other keyword arguments, verbatim."
    )
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.DELIVERED
    )
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # Serves list_notifications' keyset order and mark_all_read.
            models.Index(
                fields=["tenant_id", "user_id", "-created_at", "-id"],
                name="notif_user_recent",
            )
        ]

    def __str__(self):
        return f"{self.app_id} → {self.user_id}: {self.message[:40]}"
