"""Sharded fires: one slot's users split over N shards, each its own claim and task.

:func:`apps.scheduler.fire.fire_schedule` claims the slot (the ScheduleRun)
and calls :func:`start_shards`, which creates one pending ScheduleShardRun per
shard and queues them. A Celery message carries IMPERAL_SCHEDULE_SHARDS_PER_TASK
shards (default 1); :func:`run_shards` claims each, runs the unchanged handler
for each on one event loop (``list_users``/``query_all`` limited to the shard's
users), records each shard and, when none is left pending or running,
aggregates the slot's run. A shard claimed twice is skipped like a duplicate
fire; one whose worker died is taken over once its lease has passed, and skips
the users its slot already delivered to.
"""

import asyncio
import datetime
import logging
from contextlib import ExitStack
from dataclasses import dataclass

from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import connection
from django.db.models import F, Q
from django.utils import timezone

from apps.extensions.errors import InvocationError
from apps.extensions.invocation import prepare_schedule
from apps.store.connections import backend_for
from apps.store.shards import Shard

from .counted import run_recorded
from .delivery import TABLE, DeliveryLedger
from .heartbeat import Heartbeat
from .models import ScheduleRun, ScheduleShardRun
from .runs import run_with_ledger, schedule_settings, store_outcome, worker_name
from .signals import send_or_fail, shards_due

logger = logging.getLogger(__name__)
ShardStatus = ScheduleShardRun.Status


@dataclass
class ShardWork:
    """One claimed shard, ready to run."""

    shard_run: ScheduleShardRun
    handler: object
    ctx: object
    ledger: DeliveryLedger
    heartbeat: Heartbeat


def start_shards(run, local=False, dispatch=None):
    """Create ``run``'s shard rows and queue the shards still to run; return run.

    ``local`` runs them here instead, on one event loop, and returns the
    aggregated run. ``dispatch(run_id, indices)`` queues (default: Celery).
    """
    now = timezone.now()
    ScheduleShardRun.objects.bulk_create(
        [
            ScheduleShardRun(
                run=run, index=index, status=ShardStatus.PENDING, created_at=now
            )
            for index in range(run.shards)
        ],
        ignore_conflicts=True,  # a taken-over slot keeps the shards it has
    )
    todo = list(
        ScheduleShardRun.objects.filter(run=run)
        .filter(
            Q(status=ShardStatus.PENDING)
            | Q(status=ShardStatus.RUNNING, lease_expires_at__lt=now)
        )
        .values_list("index", flat=True)
    )
    if local:
        run_shards(run.pk, todo)
        run.refresh_from_db()
        return run
    (dispatch or _dispatch)(run.pk, todo)
    return run


def retry_shards(run, local=False, dispatch=None):
    """Run again the shards of ``run`` that failed or timed out; return run.

    Each skips the users the slot was already delivered to. Returns the run
    unchanged when it has no such shard.
    """
    retried = ScheduleShardRun.objects.filter(
        run=run, status__in=[ShardStatus.FAILED, ShardStatus.TIMEOUT]
    ).update(status=ShardStatus.PENDING)
    if not retried:
        return run
    ScheduleRun.objects.filter(pk=run.pk).update(
        status=ScheduleRun.Status.RUNNING, finished_at=None
    )
    run.refresh_from_db()
    return start_shards(run, local=local, dispatch=dispatch)


def run_shards(run_id, indices, task_id=""):
    """Claim and run shards ``indices`` of ScheduleRun ``run_id`` concurrently on
    one event loop; return their statuses (``skipped-duplicate`` for a shard
    somebody else holds). Never raises for a handler's failure."""
    run = ScheduleRun.objects.get(pk=run_id)
    timeout, _ = schedule_settings(run.app_id, run.schedule)
    work, statuses = [], {}
    for index in indices:
        shard_run = claim_shard(run, index, timeout, task_id)
        if shard_run is None:
            statuses[index] = ShardStatus.SKIPPED_DUPLICATE
        elif (prepared := _prepare(run, shard_run)) is not None:
            work.append(prepared)
        else:
            statuses[index] = ShardStatus.FAILED
    with ExitStack() as stack:
        for item in work:
            stack.enter_context(item.heartbeat.beating(item.shard_run, item.ctx))
        outcomes = async_to_sync(_run_all)(run, work, timeout)
    for item, outcome in zip(work, outcomes, strict=True):
        store_outcome(item.shard_run, outcome, item.heartbeat)
        statuses[item.shard_run.index] = outcome.status
    aggregate(run.pk)
    return [statuses[index] for index in indices]


def claim_shard(run, index, timeout, task_id="", now=None):
    """Return shard ``index`` of ``run`` claimed RUNNING, or None (recording a
    skipped-duplicate row) when another worker holds it or it has ended."""
    now = now or timezone.now()
    grace = settings.IMPERAL_SCHEDULE_LEASE_GRACE
    live = ScheduleShardRun.objects.filter(run=run, index=index).exclude(
        status=ShardStatus.SKIPPED_DUPLICATE
    )
    taken = live.filter(
        Q(status=ShardStatus.PENDING)
        | Q(status=ShardStatus.RUNNING, lease_expires_at__lt=now)
    ).update(
        status=ShardStatus.RUNNING,
        started_at=now,
        lease_expires_at=now + datetime.timedelta(seconds=timeout + grace),
        attempts=F("attempts") + 1,
        worker=worker_name(),
        task_id=task_id,
    )
    if taken == 1:
        shard_run = live.get()
        if shard_run.attempts > 1:
            logger.warning("took over lost shard %s", shard_run)
        return shard_run
    held = live.first()
    ScheduleShardRun.objects.create(
        run=run,
        index=index,
        status=ShardStatus.SKIPPED_DUPLICATE,
        created_at=now,
        started_at=now,
        finished_at=now,
        duration_ms=0.0,
        worker=worker_name(),
        task_id=task_id,
        error=f"shard {index + 1}/{run.shards} already claimed "
        f"(it is {held.status if held else 'unknown'})",
    )
    return None


def aggregate(run_id):
    """Finish ScheduleRun ``run_id`` from its shards once none is pending or
    running; return whether this call finished it.

    Status: failed if a shard failed, else timeout if one timed out, else
    success; users are the shards' sum; duration runs from the slot's start
    to its last shard's end. Every shard calls this after recording its own
    end, so the last one to finish sees them all.
    """
    shards = list(
        ScheduleShardRun.objects.filter(run_id=run_id)
        .exclude(status=ShardStatus.SKIPPED_DUPLICATE)
        .order_by("index")
    )
    if not shards or any(s.status in ScheduleShardRun.LIVE for s in shards):
        return False
    statuses = {s.status for s in shards}
    status = next(
        (s for s in (ShardStatus.FAILED, ShardStatus.TIMEOUT) if s in statuses),
        ShardStatus.SUCCESS,
    )
    finished = max(s.finished_at or timezone.now() for s in shards)
    run = ScheduleRun.objects.get(pk=run_id)
    errors = [
        f"shard {s.index + 1}/{run.shards} {s.status}: {s.error}"
        for s in shards
        if s.status != ShardStatus.SUCCESS
    ]
    duration_ms = (finished - run.started_at).total_seconds() * 1000
    updated = ScheduleRun.objects.filter(
        pk=run_id, status=ScheduleRun.Status.RUNNING
    ).update(
        status=status,
        finished_at=finished,
        heartbeat_at=finished,
        duration_ms=duration_ms,
        users_fanned_out=sum(s.users_fanned_out for s in shards),
        result=[s.result for s in shards],
        error="; ".join(errors)[:10_000],
    )
    if updated == 1:
        run_recorded(run.app_id, run.schedule, status, duration_ms)
    return updated == 1


def reap_lost_shards(now, cutoff):
    """Record as failed the shards whose worker died and nobody took over, and
    those never started by the time their slot's lease passed (before
    ``cutoff``); aggregate their runs. Return how many shards."""
    lost = ScheduleShardRun.objects.filter(
        status=ShardStatus.RUNNING, lease_expires_at__lt=cutoff
    )
    runs = set(lost.values_list("run_id", flat=True))
    count = lost.update(
        status=ShardStatus.FAILED,
        finished_at=now,
        error="worker lost: the shard's lease expired without a result",
    )
    stale = ScheduleRun.objects.filter(
        status=ScheduleRun.Status.RUNNING, shards__gt=1, lease_expires_at__lt=cutoff
    ).values_list("pk", flat=True)
    for run_id in stale:
        count += ScheduleShardRun.objects.filter(
            run_id=run_id, status=ShardStatus.PENDING
        ).update(
            status=ShardStatus.FAILED,
            finished_at=now,
            error="never started: no worker took the shard before the slot's "
            "lease passed",
        )
        runs.add(run_id)
    for run_id in runs:
        aggregate(run_id)
    if count:
        logger.error("recorded %d lost schedule shard(s) as failed", count)
    return count


def delivered_in_shard(run_id, shard):
    """Return how many users of ``shard`` the slot of ``run_id`` was delivered to."""
    in_shard, params = backend_for(connection.vendor).shard_filter(shard)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM {TABLE} WHERE run_id = %s{in_shard}",
            [run_id, *params],
        )
        return cursor.fetchone()[0]


def _prepare(run, shard_run):
    shard = Shard(shard_run.index, run.shards)
    resumed = shard_run.attempts > 1
    ledger = DeliveryLedger(
        run.pk,
        shard=shard,
        resumed=resumed,
        already=delivered_in_shard(run.pk, shard) if resumed else 0,
    )
    heartbeat = Heartbeat(settings.IMPERAL_SCHEDULE_HEARTBEAT)
    try:
        handler, ctx = prepare_schedule(
            run.app_id, run.schedule, progress=heartbeat.progress, fanout=ledger
        )
    except InvocationError as exc:
        ScheduleShardRun.objects.filter(pk=shard_run.pk).update(
            status=ShardStatus.FAILED, finished_at=timezone.now(), error=str(exc)
        )
        return None
    return ShardWork(shard_run, handler, ctx, ledger, heartbeat)


async def _run_all(run, work, timeout):
    return await asyncio.gather(
        *(
            run_with_ledger(run, item.handler, item.ctx, item.ledger, timeout)
            for item in work
        )
    )


def task_groups(indices, per_task):
    """Return ``indices`` cut into the lists of shards one message each carries."""
    per_task = max(1, per_task)
    return [list(indices[i : i + per_task]) for i in range(0, len(indices), per_task)]


def _dispatch(run_id, indices):
    send_or_fail(shards_due, run_id=run_id, indices=indices)
