"""What operators did to users' partitions through the API, with their names."""

from django.db import models

from apps.accounts.partition import partition_index


class OperatorAction(models.Model):
    """One operator's export or erase of one partition (the store's audit trail
    records each deleted document; this row records who asked)."""

    class Action(models.TextChoices):
        EXPORT = "export"
        ERASE = "erase"

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    operator = models.CharField(
        max_length=150, help_text="Username of the staff user who acted."
    )
    operator_id = models.CharField(
        max_length=128, help_text="imperal_id of the staff user who acted."
    )
    action = models.CharField(max_length=16, choices=Action.choices)
    tenant_id = models.CharField(max_length=64)
    app_id = models.CharField(max_length=128)
    user_id = models.CharField(max_length=128, help_text="Whose partition.")
    documents = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Documents exported or erased; empty while an export streams "
        "or if it was not read to its end.",
    )
    cache_entries = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [partition_index("api_operator_action_partition", "at")]

    def __str__(self):
        return (
            f"{self.action} of {self.app_id}/{self.user_id} by {self.operator} "
            f"at {self.at:%Y-%m-%d %H:%M}"
        )
