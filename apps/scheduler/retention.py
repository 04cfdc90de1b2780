"""Forget finished schedule runs once they are older than the retention period."""

import datetime

from django.conf import settings
from django.utils import timezone

from .models import Delivery, ScheduleRun

BATCH_SIZE = 5000  # rows per DELETE, so no single statement holds locks for long


def prune_finished_runs(now=None, batch_size=BATCH_SIZE):
    """Delete finished runs started over IMPERAL_SCHEDULE_RUN_RETENTION_DAYS ago.

    Return how many were deleted. Running claims are never touched, and a
    retention of 0 days keeps every run.
    """
    days = settings.IMPERAL_SCHEDULE_RUN_RETENTION_DAYS
    if not days:
        return 0
    cutoff = (now or timezone.now()) - datetime.timedelta(days=days)
    expired = ScheduleRun.objects.filter(started_at__lt=cutoff).exclude(
        status=ScheduleRun.Status.RUNNING
    )
    deleted = 0
    while ids := list(expired.values_list("pk", flat=True)[:batch_size]):
        # One DELETE of the slots' delivery rows (no cascade walks them).
        Delivery.objects.filter(run_id__in=ids).delete()
        deleted += ScheduleRun.objects.filter(pk__in=ids).delete()[0]
    return deleted
