"""Fire a schedule: claim its slot, run the handler in system context, record the run.

The Celery task, ``manage.py ext fire`` and the admin's "Run now" all call
:func:`fire_schedule`; dedup lives in the database (a unique claim row), never
in a process's memory. A schedule of N > 1 shards claims the slot here and
hands the shards to :mod:`apps.scheduler.shards`.
"""

import datetime
import logging

from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from apps.extensions.errors import ExtensionDisabled, InvocationError
from apps.extensions.invocation import enabled_extension, prepare_schedule

from . import missed
from .counted import run_recorded
from .cron import slot_for, slot_label
from .delivery import DeliveryLedger, delivered_count
from .heartbeat import Heartbeat
from .models import ScheduleRun
from .runs import run_with_ledger, schedule_settings, store_outcome, worker_name
from .shards import reap_lost_shards, start_shards

logger = logging.getLogger(__name__)
Status = ScheduleRun.Status


def fire_schedule(
    app_id,
    name,
    *,
    slot=None,
    due_at=None,
    trigger="beat",
    task_id="",
    now=None,
    local=False,
    dispatch=None,
    triggered_by="",
):
    """Run schedule ``name`` of ``app_id`` once for its slot; return the ScheduleRun.

    ``slot`` names the slot explicitly (``manual:<timestamp>``); otherwise it
    is the cron match time ``due_at`` (or ``now``) belongs to. A slot that is
    already claimed returns a new ``skipped-duplicate`` run and runs nothing;
    a beat fire that comes too late for its slot is handled by the schedule's
    catch-up policy (:mod:`apps.scheduler.missed`). A sharded schedule's run
    is returned running, its shards queued for workers (run here, one event
    loop, when ``local``; ``dispatch(run_id, indices)`` queues them instead of
    Celery). ``triggered_by`` names the operator who asked for a manual fire.
    Never raises for a handler's failure: it is recorded on the run.
    """
    now = now or timezone.now()
    fields = {
        "app_id": app_id,
        "schedule": name,
        "trigger": trigger,
        "triggered_by": triggered_by,
        "task_id": task_id,
        "started_at": now,
        "worker": worker_name(),
    }
    try:
        definition = enabled_extension(app_id).schedule(name)
    except ExtensionDisabled as exc:
        return record(
            fields,
            slot or f"disabled:{now.isoformat()}",
            Status.SKIPPED_DISABLED,
            error=str(exc),
        )
    except InvocationError as exc:
        return record(
            fields, slot or f"error:{now.isoformat()}", Status.FAILED, error=str(exc)
        )
    if slot is None:
        slot_time = slot_for(definition.cron, due_at or now)
        slot = slot_label(slot_time)
        if trigger == "beat" and missed.is_late(slot_time, due_at or now):
            late = missed.late_fire(fields, slot)
            if late is not None:
                return late
            fields["trigger"] = missed.CATCH_UP
    timeout, shards = schedule_settings(app_id, name)
    run = _claim(
        {**fields, "shards": shards},
        slot,
        lease_until=now + datetime.timedelta(seconds=lease_seconds(timeout, shards)),
    )
    if run.status != Status.RUNNING:
        return run
    if run.shards > 1:
        return start_shards(run, local=local, dispatch=dispatch)
    return _run_unsharded(run, timeout)


def lease_seconds(timeout, shards):
    """Return how long a claim holds before it is presumed lost.

    A sharded slot's shards may run one after another on a single worker, so
    its lease is the shard timeout times the shard count (plus the grace).
    """
    return timeout * shards + settings.IMPERAL_SCHEDULE_LEASE_GRACE


def manual_slot(now=None):
    """Return a fresh slot label for an operator's "run now"."""
    return f"manual:{(now or timezone.now()).isoformat()}"


def fire_now(app_id, name, *, local=False, operator=""):
    """Fire a schedule now, as an operator asks, for a manual slot of its own;
    return its ScheduleRun (``ext fire``, the API's and the console's "Run now"),
    which names the ``operator`` (their username) when one pressed the button.

    A sharded schedule's shards are queued for workers and its run is returned
    running, unless ``local`` runs them here and returns the finished run.
    Raises ExtensionNotFound or HandlerNotFound for a schedule that does not
    exist (nothing is recorded); a disabled extension's refusal is recorded as
    a skipped-disabled run, like a beat fire's.
    """
    try:
        prepare_schedule(app_id, name)
    except ExtensionDisabled:
        pass  # fire_schedule records the refusal
    return fire_schedule(
        app_id,
        name,
        slot=manual_slot(),
        trigger="manual",
        local=local,
        triggered_by=operator,
    )


def reap_lost_fires(now=None):
    """Mark running claims whose lease passed long ago as failed; return how many.

    A worker that died mid-fire leaves its claim running; a redelivered task
    takes the claim over once the lease has passed, and this records the fires
    (and shards) nobody took over within IMPERAL_SCHEDULE_REAP_AFTER seconds.
    """
    now = now or timezone.now()
    cutoff = now - datetime.timedelta(seconds=settings.IMPERAL_SCHEDULE_REAP_AFTER)
    lost = ScheduleRun.objects.filter(
        status=Status.RUNNING, lease_expires_at__lt=cutoff, shards=1
    )
    names = list(lost.values_list("app_id", "schedule"))
    count = lost.update(
        status=Status.FAILED,
        finished_at=now,
        error="worker lost: the claim's lease expired without a result",
    )
    for app_id, schedule in names[:count]:
        run_recorded(app_id, schedule, Status.FAILED)
    if count:
        logger.error("recorded %d lost schedule fire(s) as failed", count)
    return count + reap_lost_shards(now, cutoff)


def _run_unsharded(run, timeout):
    heartbeat = Heartbeat(settings.IMPERAL_SCHEDULE_HEARTBEAT)
    resumed = run.attempts > 1
    ledger = DeliveryLedger(
        run.pk, resumed=resumed, already=delivered_count(run.pk) if resumed else 0
    )
    try:
        handler, ctx = prepare_schedule(
            run.app_id, run.schedule, progress=heartbeat.progress, fanout=ledger
        )
    except InvocationError as exc:  # disabled between the check and the claim
        ScheduleRun.objects.filter(pk=run.pk).update(
            status=Status.FAILED, finished_at=timezone.now(), error=str(exc)
        )
        run.refresh_from_db()
        run_recorded(run.app_id, run.schedule, run.status)
        return run
    with heartbeat.beating(run, ctx):
        outcome = async_to_sync(run_with_ledger)(run, handler, ctx, ledger, timeout)
    return store_outcome(run, outcome, heartbeat)


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
    return record(
        fields,
        slot,
        Status.SKIPPED_DUPLICATE,
        error=f"slot {slot} already claimed (that run is {held})",
    )


def record(fields, slot, status, error=""):
    """Store and return a run that ran nothing (skipped, refused, missed)."""
    fields = {key: value for key, value in fields.items() if key != "shards"}
    run = ScheduleRun.objects.create(
        **fields,
        slot=slot,
        status=status,
        finished_at=fields["started_at"],
        duration_ms=0.0,
        error=error,
    )
    run_recorded(run.app_id, run.schedule, status)
    return run
