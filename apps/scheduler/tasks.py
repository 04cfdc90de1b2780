"""Celery tasks: the scheduled fire, the lost-fire reaper, retention of runs, webhook
calls, security events and recorded errors, and the kernel's per-minute work
(skeleton refreshes, health checks)."""

import datetime

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from apps.extensions.health import run_health_checks
from apps.extensions.skeleton import refresh_due
from apps.observability.retention import prune_recorded_errors

from .beat import (
    FIRE_TASK,
    HEALTH_TASK,
    MISSED_TASK,
    PRUNE_ERRORS_TASK,
    PRUNE_RECORDS_TASK,
    PRUNE_TASK,
    REAP_TASK,
    SHARD_TASK,
    SKELETON_TASK,
)
from .fire import fire_schedule, reap_lost_fires
from .missed import CATCH_UP, record_missed_slots
from .retention import prune_finished_runs, prune_records
from .shards import run_shards, task_groups

# A fire or shard task: redelivered if its worker dies; the time limits are a
# backstop for handlers that block the event loop (the per-schedule timeout
# itself is enforced inside the fire).
HANDLER_TASK = {
    "bind": True,
    "acks_late": True,
    "reject_on_worker_lost": True,
    "soft_time_limit": settings.IMPERAL_SCHEDULE_TIMEOUT_MAX + 30,
    "time_limit": settings.IMPERAL_SCHEDULE_TIMEOUT_MAX + 60,
}


@shared_task(name=FIRE_TASK, **HANDLER_TASK)
def fire_schedule_task(self, app_id, schedule, slot=None, due_at=None, trigger="beat"):
    """Fire one schedule; return the run's status."""
    due = datetime.datetime.fromisoformat(due_at) if due_at else None
    run = fire_schedule(
        app_id,
        schedule,
        slot=slot,
        due_at=due,
        trigger=trigger,
        task_id=self.request.id or "",
    )
    return run.status


@shared_task(name=SHARD_TASK, **HANDLER_TASK)
def fire_shards_task(self, run_id, indices):
    """Run shards ``indices`` of one sharded fire; return their statuses."""
    return run_shards(run_id, indices, task_id=self.request.id or "")


@shared_task(name=MISSED_TASK)
def record_missed_slots_task():
    """Record slots nobody fired and queue their catch-up; return how many."""
    return record_missed_slots()


@shared_task(name=REAP_TASK)
def reap_lost_fires_task():
    """Record fires whose worker died as failed; return how many."""
    return reap_lost_fires()


@shared_task(name=PRUNE_TASK)
def prune_schedule_runs_task():
    """Delete finished runs past the retention period; return how many."""
    return prune_finished_runs()


@shared_task(name=PRUNE_RECORDS_TASK)
def prune_records_task():
    """Delete webhook calls and security events past their retention; return
    {model: how many}."""
    return prune_records()


@shared_task(name=PRUNE_ERRORS_TASK)
def prune_recorded_errors_task():
    """Delete recorded errors past the retention period; return how many."""
    return prune_recorded_errors()


@shared_task(name=SKELETON_TASK)
def refresh_skeletons_task():
    """Refresh the stale skeleton sections of installed users; return {app: count}."""
    return refresh_due(timezone.now)


@shared_task(name=HEALTH_TASK)
def run_health_checks_task():
    """Run the due @ext.health_check hooks; return {app_id: status}."""
    return run_health_checks()


def queue_shards(sender, run_id, indices, **kwargs):
    """Receive shards_due: send the shard tasks, IMPERAL_SCHEDULE_SHARDS_PER_TASK
    shards a message."""
    for group in task_groups(indices, settings.IMPERAL_SCHEDULE_SHARDS_PER_TASK):
        fire_shards_task.delay(run_id, group)


def queue_catch_up(sender, app_id, schedule, slot, **kwargs):
    """Receive catch_up_due: send the fire task of a missed slot."""
    fire_schedule_task.delay(app_id, schedule, slot=slot, trigger=CATCH_UP)
