"""The operators' record of every ctx.ai call: who, which model, how many tokens."""

from django.db import models

from apps.accounts.partition import PartitionKeyed, partition_index


class Status(models.TextChoices):
    """How a call ended: a fixed set (it labels the Prometheus counter)."""

    OK = "ok", "answered"
    REFUSED = "refused", "refused by the egress policy or a limit"
    FAILED = "failed", "the provider failed or refused"
    TIMEOUT = "timeout", "timed out"


class AICall(PartitionKeyed):
    """One ctx.ai completion, answered or not.

    Never the prompt, the system text or the answer: only who asked, the
    model, the token counts the provider reported and how it ended. Token
    counts per user per day (quotas, usage) are sums over these rows.
    """

    started_at = models.DateTimeField(db_index=True)
    provider = models.CharField(max_length=32)
    model = models.CharField(max_length=128)
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    duration_ms = models.FloatField()
    status = models.CharField(max_length=16, choices=Status.choices, db_index=True)
    error_code = models.CharField(max_length=64, blank=True)
    provider_status = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="The provider's HTTP status, when it failed."
    )

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [partition_index("ai_call_partition_started", "started_at")]

    @property
    def total_tokens(self):
        return self.input_tokens + self.output_tokens

    def __str__(self):
        return f"{self.model} for {self.partition}"
