"""What a fire and each shard of one share: run the handler with its delivery
ledger, store the outcome under the claim, and a schedule's timeout."""

import logging
import os
import socket

from django.conf import settings
from django.utils import timezone

from apps.extensions.invocation import run_schedule_handler
from apps.extensions.models import Outcome

from .counted import run_recorded
from .models import Schedule, ScheduleRun

logger = logging.getLogger(__name__)
Status = ScheduleRun.Status


async def run_with_ledger(run, handler, ctx, ledger, timeout):
    """Run one fire's (or shard's) handler, then store its last deliveries;
    return the ScheduleOutcome (never raises)."""
    outcome = await run_schedule_handler(
        run.app_id, run.schedule, handler, ctx, timeout=timeout
    )
    try:
        await ledger.close(outcome.status == Outcome.SUCCESS)
    except Exception as exc:  # the run records it; the handler's work is done
        logger.exception("run %s: last deliveries not recorded", run)
        outcome.status = Outcome.FAILED
        outcome.error = f"the last deliveries were not recorded: {exc}"
    outcome.users_fanned_out = ctx._fanned_out_count
    return outcome


def store_outcome(run, outcome, heartbeat):
    """Store ``outcome`` on ``run`` (a ScheduleRun or ScheduleShardRun) if it
    still holds its claim; return the run with the stored values."""
    values = {
        "status": outcome.status,
        "finished_at": timezone.now(),
        "duration_ms": outcome.duration_ms,
        "users_fanned_out": outcome.users_fanned_out,
        "progress_percent": heartbeat.percent,
        "progress_message": heartbeat.message,
        "result": outcome.result,
        "error": outcome.error,
        "traceback": outcome.traceback,
    }
    values["heartbeat_at"] = values["finished_at"]
    updated = (
        type(run)
        .objects.filter(pk=run.pk, status=Status.RUNNING, attempts=run.attempts)
        .update(**values)
    )
    if updated != 1:
        logger.error(
            "%s lost its claim while running; its outcome was %s", run, outcome.status
        )
    elif isinstance(run, ScheduleRun):  # a shard's run is counted when it finishes
        run_recorded(run.app_id, run.schedule, outcome.status, outcome.duration_ms)
    for key, value in values.items():
        setattr(run, key, value)
    return run


def schedule_settings(app_id, name):
    """Return ``(timeout seconds per shard, shard count)`` of a schedule.

    The timeout is the schedule's own ``timeout_seconds`` or
    IMPERAL_SCHEDULE_TIMEOUT; each shard has all of it.
    """
    row = (
        Schedule.objects.filter(app_id=app_id, name=name)
        .values_list("timeout_seconds", "shards")
        .first()
    )
    timeout, shards = row or (None, 1)
    return timeout or settings.IMPERAL_SCHEDULE_TIMEOUT, shards or 1


def worker_name():
    """Return this process's name on the runs it claims (host:pid)."""
    return f"{socket.gethostname()}:{os.getpid()}"
