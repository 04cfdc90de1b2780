"""What operators did, with their names: every write of theirs and every export."""

from django.db import models

from apps.accounts.partition import partition_index


class OperatorAction(models.Model):
    """One operator's write or export, with their name: a partition's export or
    erase, a document's create, edit or delete, a cache entry's delete, a
    schedule's "Run now", an extension's or a schedule's switch.

    The store's audit trail records each document write (and what it changed);
    this row records who asked, whatever was written.
    """

    class Action(models.TextChoices):
        EXPORT = "export", "export partition"
        ERASE = "erase", "erase partition"
        CREATE = "create", "create document"
        EDIT = "edit", "edit document"
        DELETE = "delete", "delete document"
        CACHE_DELETE = "cache-delete", "delete cache entry"
        RUN_NOW = "run-now", "run schedule now"
        SWITCH = "switch", "switch on or off"

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    operator = models.CharField(
        max_length=150, help_text="Username of the staff user who acted."
    )
    operator_id = models.CharField(
        max_length=128, help_text="imperal_id of the staff user who acted."
    )
    action = models.CharField(max_length=16, choices=Action.choices)
    tenant_id = models.CharField(
        max_length=64,
        help_text="The partition's tenant; the operator's own for an extension or "
        "a schedule.",
    )
    app_id = models.CharField(max_length=128)
    user_id = models.CharField(
        max_length=128,
        blank=True,
        help_text="Whose partition; empty for an extension or a schedule.",
    )
    collection = models.CharField(max_length=128, blank=True, default="")
    doc_id = models.CharField(max_length=128, blank=True, default="")
    detail = models.JSONField(
        default=dict,
        blank=True,
        help_text="What else identifies the write: the document's etag after it, "
        "the cache entry's model and key hash, the schedule and its run, the "
        "state switched to. Never a value or a secret.",
    )
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
        target = "/".join(
            part
            for part in (self.app_id, self.user_id, self.collection, self.doc_id)
            if part
        )
        return (
            f"{self.action} of {target} by {self.operator} at {self.at:%Y-%m-%d %H:%M}"
        )
