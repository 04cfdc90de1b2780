"""Fire a schedule: claim its slot, run the handler in system context, record the run.

The Celery task, ``manage.py ext fire`` and the admin's "Run now" all call
:func:`fire_schedule`; dedup lives in the database (a unique claim row), never
in a process's memory.
"""

import datetime
import logging
import os
import socket

from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from apps.extensions.errors import ExtensionDisabled, InvocationError
from apps.extensions.invocation import prepare_schedule, run_schedule_handler

from .cron import slot_for, slot_label
from .heartbeat import Heartbeat
from .models import Schedule, ScheduleRun

logger = logging.getLogger(__name__)
Status = ScheduleRun.Status


def fire_schedule(
    app_id, name, *, slot=None, due_at=None, trigger="beat", task_id="", now=None
):
    """Run schedule ``name`` of ``app_id`` once for its slot; return the ScheduleRun.

    ``slot`` names the slot explicitly (``manual:<timestamp>``); otherwise it
    is the cron match time ``due_at`` (or ``now``) belongs to. A slot that is
    already claimed returns a new ``skipped-duplicate`` run and runs nothing.
    Never raises for a handler's failure: it is recorded on the run.
    """
    now = now or timezone.now()
    fields = {
        "app_id": app_id,
        "schedule": name,
        "trigger": trigger,
        "task_id": task_id,
        "started_at": now,
        "worker": _worker_name(),
    }
    heartbeat = Heartbeat(settings.IMPERAL_SCHEDULE_HEARTBEAT)
    try:
        handler, ctx = prepare_schedule(app_id, name, progress=heartbeat.progress)
    except ExtensionDisabled as exc:
        return _record(
            fields,
            slot or f"disabled:{now.isoformat()}",
            Status.SKIPPED_DISABLED,
            error=str(exc),
        )
    except InvocationError as exc:
        return _record(
            fields, slot or f"error:{now.isoformat()}", Status.FAILED, error=str(exc)
        )
    if slot is None:
        slot = slot_label(slot_for(ctx._extension.schedules[name].cron, due_at or now))
    timeout = _timeout_of(app_id, name)
    run = _claim(
        fields,
        slot,
        lease_until=now
        + datetime.timedelta(seconds=timeout + settings.IMPERAL_SCHEDULE_LEASE_GRACE),
    )
    if run.status != Status.RUNNING:
        return run
    with heartbeat.beating(run, ctx):
        outcome = async_to_sync(run_schedule_handler)(
            app_id, name, handler, ctx, timeout=timeout
        )
    return _finish(run, outcome, heartbeat)


def manual_slot(now=None):
    """Return a fresh slot label for an operator's "run now"."""
    return f"manual:{(now or timezone.now()).isoformat()}"


def reap_lost_fires(now=None):
    """Mark running claims whose lease passed long ago as failed; return how many.

    A worker that died mid-fire leaves its claim running; a redelivered task
    takes the claim over once the lease has passed, and this records the fires
    nobody took over within IMPERAL_SCHEDULE_REAP_AFTER seconds.
    """
    now = now or timezone.now()
    cutoff = now - datetime.timedelta(seconds=settings.IMPERAL_SCHEDULE_REAP_AFTER)
    lost = ScheduleRun.objects.filter(
        status=Status.RUNNING, lease_expires_at__lt=cutoff
    )
    count = lost.update(
        status=Status.FAILED,
        finished_at=now,
        error="worker lost: the claim's lease expired without a result",
    )
    if count:
        logger.error("recorded %d lost schedule fire(s) as failed", count)
    return count


def _claim(fields, slot, lease_until):
    """Return the claimed RUNNING run for the slot, or a SKIPPED_DUPLICATE run."""
    try:
        with transaction.atomic():
            return ScheduleRun.objects.create(
                **fields, slot=slot, status=Status.RUNNING, lease_expires_at=lease_until
            )
    except IntegrityError:
        pass
    # Somebody holds the slot; take it over only if its lease passed while it
    # still says running (its worker died), and only one taker can win.
    holder = ScheduleRun.objects.filter(
        app_id=fields["app_id"],
        schedule=fields["schedule"],
        slot=slot,
        status=Status.RUNNING,
        lease_expires_at__lt=fields["started_at"],
    )
    taken = holder.update(
        attempts=F("attempts") + 1,
        lease_expires_at=lease_until,
        started_at=fields["started_at"],
        worker=fields["worker"],
        task_id=fields["task_id"],
    )
    if taken == 1:
        run = ScheduleRun.objects.get(
            app_id=fields["app_id"],
            schedule=fields["schedule"],
            slot=slot,
            status=Status.RUNNING,
        )
        logger.warning("took over lost fire %s (attempt %d)", run, run.attempts)
        return run
    existing = (
        ScheduleRun.objects.filter(
            app_id=fields["app_id"], schedule=fields["schedule"], slot=slot
        )
        .exclude(status__in=ScheduleRun.SKIPPED)
        .first()
    )
    held = existing.status if existing else "unknown"
    return _record(
        fields,
        slot,
        Status.SKIPPED_DUPLICATE,
        error=f"slot {slot} already claimed (that run is {held})",
    )


def _finish(run, outcome, heartbeat):
    finished = timezone.now()
    values = {
        "status": outcome.status,
        "finished_at": finished,
        "duration_ms": outcome.duration_ms,
        "users_fanned_out": len(outcome.users_fanned_out),
        "progress_percent": heartbeat.percent,
        "progress_message": heartbeat.message,
        "heartbeat_at": finished,
        "result": outcome.result,
        "error": outcome.error,
        "traceback": outcome.traceback,
    }
    updated = ScheduleRun.objects.filter(
        pk=run.pk, status=Status.RUNNING, attempts=run.attempts
    ).update(**values)
    if updated != 1:
        logger.error(
            "run %s lost its claim while running; its outcome was %s",
            run,
            outcome.status,
        )
    for key, value in values.items():
        setattr(run, key, value)
    return run


def _record(fields, slot, status, error=""):
    return ScheduleRun.objects.create(
        **fields,
        slot=slot,
        status=status,
        finished_at=fields["started_at"],
        duration_ms=0.0,
        error=error,
    )


def _timeout_of(app_id, name):
    override = (
        Schedule.objects.filter(app_id=app_id, name=name)
        .values_list("timeout_seconds", flat=True)
        .first()
    )
    return override or settings.IMPERAL_SCHEDULE_TIMEOUT


def _worker_name():
    return f"{socket.gethostname()}:{os.getpid()}"
