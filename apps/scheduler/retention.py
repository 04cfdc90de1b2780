"""Forget records once they are older than their retention period: finished schedule
runs, webhook calls and security events (each period a setting; 0 keeps all)."""

import datetime

from django.conf import settings
from django.utils import timezone

from apps.accounts.models import SecurityEvent
from apps.extensions.models import WebhookCall

from .models import Delivery, ScheduleRun

BATCH_SIZE = 5000  # rows per DELETE, so no single statement holds locks for long


def prune_finished_runs(now=None, batch_size=BATCH_SIZE):
    """Delete finished runs started over IMPERAL_SCHEDULE_RUN_RETENTION_DAYS ago.

    Return how many were deleted. Running claims are never touched, and a
    retention of 0 days keeps every run.
    """
    cutoff = _cutoff(settings.IMPERAL_SCHEDULE_RUN_RETENTION_DAYS, now)
    if cutoff is None:
        return 0
    expired = ScheduleRun.objects.filter(started_at__lt=cutoff).exclude(
        status=ScheduleRun.Status.RUNNING
    )
    deleted = 0
    while ids := list(expired.values_list("pk", flat=True)[:batch_size]):
        # One DELETE of the slots' delivery rows (no cascade walks them).
        Delivery.objects.filter(run_id__in=ids).delete()
        deleted += ScheduleRun.objects.filter(pk__in=ids).delete()[0]
    return deleted


def prune_webhook_calls(now=None, batch_size=BATCH_SIZE):
    """Delete WebhookCalls made over IMPERAL_WEBHOOK_CALL_RETENTION_DAYS ago; return
    how many (0 days keeps every call)."""
    cutoff = _cutoff(settings.IMPERAL_WEBHOOK_CALL_RETENTION_DAYS, now)
    if cutoff is None:
        return 0
    return _delete_in_batches(
        WebhookCall.objects.filter(created_at__lt=cutoff), batch_size
    )


def prune_security_events(now=None, batch_size=BATCH_SIZE):
    """Delete SecurityEvents whose interval began over
    IMPERAL_SECURITY_EVENT_RETENTION_DAYS ago; return how many (0 days keeps all)."""
    cutoff = _cutoff(settings.IMPERAL_SECURITY_EVENT_RETENTION_DAYS, now)
    if cutoff is None:
        return 0
    return _delete_in_batches(
        SecurityEvent.objects.filter(created_at__lt=cutoff), batch_size
    )


def prune_records(now=None):
    """Apply the webhook-call and security-event retention; return {model: deleted}."""
    return {
        "webhook_calls": prune_webhook_calls(now),
        "security_events": prune_security_events(now),
    }


def _cutoff(days, now):
    if not days:
        return None
    return (now or timezone.now()) - datetime.timedelta(days=days)


def _delete_in_batches(expired, batch_size):
    model, deleted = expired.model, 0
    while ids := list(expired.values_list("pk", flat=True)[:batch_size]):
        deleted += model.objects.filter(pk__in=ids).delete()[0]
    return deleted
