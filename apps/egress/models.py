"""The operators' record of every outbound call made for an extension."""

from django.db import models


class Outcome(models.TextChoices):
    """How an outbound call ended: a fixed set (it labels the Prometheus counter)."""

    OK = "ok", "answered"
    REFUSED = "refused", "refused by the egress policy"
    RATE_LIMITED = "rate_limited", "over the extension's rate"
    TOO_LARGE = "too_large", "response over the size cap"
    BUSY = "busy", "no free connection slot"
    TIMEOUT = "timeout", "timed out"
    FAILED = "failed", "failed (network, protocol or URL)"


class OutboundCallQuerySet(models.QuerySet):
    def of_app(self, app_id):
        return self.filter(app_id=app_id)


class OutboundCall(models.Model):
    """One ctx.http call (redirects included), allowed or refused.

    Never bodies, headers, paths or query strings: a path can carry a secret
    as well as a query can (webhook URLs, bot tokens), so only the host is kept.
    """

    started_at = models.DateTimeField(db_index=True)
    tenant_id = models.CharField(max_length=64)
    app_id = models.CharField(max_length=128, help_text="The extension that called.")
    user_id = models.CharField(
        max_length=128, help_text="Whose call it was (or __system__ for schedules)."
    )
    method = models.CharField(max_length=16)
    scheme = models.CharField(max_length=16)
    host = models.CharField(max_length=255, help_text="Host of the URL asked for.")
    port = models.PositiveIntegerField(null=True, blank=True)
    status = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="HTTP status of the final answer."
    )
    redirects = models.PositiveSmallIntegerField(default=0)
    bytes_out = models.BigIntegerField(default=0, help_text="Bytes sent on the wire.")
    bytes_in = models.BigIntegerField(default=0, help_text="Bytes read on the wire.")
    duration_ms = models.FloatField()
    outcome = models.CharField(max_length=16, choices=Outcome.choices, db_index=True)
    error_code = models.CharField(max_length=32, blank=True)
    rule = models.CharField(
        max_length=32, blank=True, help_text="The rule that refused or limited it."
    )
    refused_host = models.CharField(
        max_length=255, blank=True, help_text="Where it was stopped (a redirect hop?)."
    )

    objects = OutboundCallQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [
            models.Index(
                fields=["app_id", "started_at"], name="outbound_call_app_started"
            )
        ]

    def __str__(self):
        return f"{self.method} {self.scheme}://{self.host} by {self.app_id}"
