"""A document's audit history, newest first, read by its partition key; and
the pruning of entries older than an operator's retention."""

from .models import AuditEntry

HISTORY_LIMIT = 50
PRUNE_BATCH = 5_000


def document_history(partition, collection, doc_id, limit=HISTORY_LIMIT):
    """Return up to ``limit`` AuditEntry rows of one document, newest first."""
    entries = AuditEntry.objects.in_partition(
        partition.tenant_id, partition.app_id, partition.user_id
    )
    return list(
        entries.filter(collection=collection, doc_id=doc_id).order_by("-at", "-id")[
            :limit
        ]
    )


def prune_audit(before, *, batch_size=PRUNE_BATCH, progress=None):
    """Delete the audit entries written before ``before``, oldest first, one batch
    per statement; return how many were deleted.

    ``progress(deleted)`` is called after each batch. Documents are untouched:
    only the trail of their writes goes.
    """
    old = AuditEntry.objects.filter(at__lt=before).order_by("at", "id")
    deleted = 0
    while ids := list(old.values_list("pk", flat=True)[:batch_size]):
        count, _ = AuditEntry.objects.filter(pk__in=ids).delete()
        deleted += count
        if progress is not None:
            progress(deleted)
    return deleted


def count_prunable(before):
    """Return how many audit entries were written before ``before``."""
    return AuditEntry.objects.filter(at__lt=before).count()
