"""A document's audit history, newest first, read by its partition key."""

from .models import AuditEntry

HISTORY_LIMIT = 50


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
