"""Forget ctx.ai call records once they are older than the retention period."""

import datetime

from django.conf import settings
from django.utils import timezone

from .models import AICall

BATCH_SIZE = 5000  # rows per DELETE, so no single statement holds locks for long


def prune_ai_calls(now=None, batch_size=BATCH_SIZE):
    """Delete AICall rows started over IMPERAL_AI_CALL_RETENTION_DAYS ago.

    Return how many were deleted; a retention of 0 days keeps every row.
    """
    days = settings.IMPERAL_AI_CALL_RETENTION_DAYS
    if not days:
        return 0
    cutoff = (now or timezone.now()) - datetime.timedelta(days=days)
    expired = AICall.objects.filter(started_at__lt=cutoff)
    deleted = 0
    while ids := list(expired.values_list("pk", flat=True)[:batch_size]):
        deleted += AICall.objects.filter(pk__in=ids).delete()[0]
    return deleted
