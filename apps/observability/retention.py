"""Forget recorded errors once they are older than the retention period."""

import datetime

from django.conf import settings
from django.utils import timezone

from .models import RecordedError

BATCH_SIZE = 5000  # rows per DELETE, so no single statement holds locks for long


def prune_recorded_errors(now=None, batch_size=BATCH_SIZE):
    """Delete errors recorded over IMPERAL_ERROR_RETENTION_DAYS ago; return how many.

    A retention of 0 days keeps every error.
    """
    days = settings.IMPERAL_ERROR_RETENTION_DAYS
    if not days:
        return 0
    cutoff = (now or timezone.now()) - datetime.timedelta(days=days)
    expired = RecordedError.objects.filter(created_at__lt=cutoff)
    deleted = 0
    while ids := list(expired.values_list("pk", flat=True)[:batch_size]):
        deleted += RecordedError.objects.filter(pk__in=ids).delete()[0]
    return deleted
