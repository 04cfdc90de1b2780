"""Slots nobody fired: recorded as missed, then run once late or skipped.

A slot is missed when beat was down through it, or the broker refused beat's
message, or beat's fire came too late. Two paths find it, both recording a
``missed`` ScheduleRun (at most one per slot) and honouring the schedule's
``catch_up`` policy:

- a beat fire stamped more than IMPERAL_SCHEDULE_LATE_AFTER seconds after its
  slot (beat came back and fired what it had missed): :func:`late_fire`;
- a per-minute check of every enabled schedule's slots since the last check
  that have no run at all IMPERAL_SCHEDULE_MISSED_AFTER seconds after the slot:
  :func:`record_missed_slots`. Under ``run-once`` the latest missed slot is
  queued once, unless a later slot has run since.
"""

import datetime
import logging

from croniter import croniter
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from .counted import run_recorded
from .cron import slot_label
from .models import CatchUp, Schedule, ScheduleRun
from .signals import catch_up_due, send_or_fail

logger = logging.getLogger(__name__)

CATCH_UP = "catch-up"  # the trigger of a run that fires a missed slot late
SLOTS_MAX = 1000  # slots checked per schedule and pass (a year of hourly ones)


def late_after():
    """Seconds past its slot after which a beat fire counts as late."""
    return settings.IMPERAL_SCHEDULE_LATE_AFTER


def missed_after():
    """Seconds past its slot after which a slot without any run is missed."""
    return settings.IMPERAL_SCHEDULE_MISSED_AFTER


def is_late(slot_time, due_at):
    """Return whether beat found ``slot_time`` due too late to be on time."""
    return (due_at - slot_time).total_seconds() > late_after()


def late_fire(fields, slot):
    """Record ``slot`` of a late beat fire as missed; return that run when the
    policy is ``skip`` (nothing runs), else None (the caller runs it late)."""
    policy = catch_up_of(fields["app_id"], fields["schedule"])
    reason = (
        f"beat fired slot {slot} late (at {fields['started_at']:%H:%M:%S}Z; beat or "
        f"the broker was down); catch-up policy: {policy}"
    )
    run = record_missed(fields, slot, reason)
    logger.warning("%s:%s %s", fields["app_id"], fields["schedule"], reason)
    return run if policy == CatchUp.SKIP else None


def record_missed(fields, slot, reason):
    """Store the ``missed`` run of ``slot`` (once per slot); return it."""
    keys = {"app_id": fields["app_id"], "schedule": fields["schedule"], "slot": slot}
    try:
        with transaction.atomic():
            run = ScheduleRun.objects.create(
                **keys,
                trigger=fields.get("trigger", "beat"),
                status=ScheduleRun.Status.MISSED,
                started_at=fields["started_at"],
                finished_at=fields["started_at"],
                duration_ms=0.0,
                error=reason,
            )
    except IntegrityError:
        return ScheduleRun.objects.get(**keys, status=ScheduleRun.Status.MISSED)
    run_recorded(run.app_id, run.schedule, run.status)
    return run


def catch_up_of(app_id, name):
    """Return the catch-up policy of a schedule (run-once when unknown)."""
    policy = (
        Schedule.objects.filter(app_id=app_id, name=name)
        .values_list("catch_up", flat=True)
        .first()
    )
    return policy or CatchUp.RUN_ONCE


def record_missed_slots(now=None, enqueue=None):
    """Check every schedule's slots since its last check; return how many
    were recorded missed.

    ``enqueue(app_id, schedule, slot)`` queues a late fire (default: the
    Celery fire task). A disabled schedule's slots are not missed.
    """
    now = now or timezone.now()
    enqueue = _enqueue if enqueue is None else enqueue
    horizon = now - datetime.timedelta(seconds=missed_after())
    found = 0
    for schedule in Schedule.objects.filter(present=True).select_related(
        "periodic_task"
    ):
        since = schedule.checked_until
        if since is not None and schedule.enabled:
            found += _check(schedule, since, horizon, now, enqueue)
        if since is None or since < horizon:
            Schedule.objects.filter(pk=schedule.pk).update(checked_until=horizon)
    return found


def _check(schedule, since, horizon, now, enqueue):
    slots = _slots_between(schedule.cron, since, horizon)
    if not slots:
        return 0
    runs = ScheduleRun.objects.filter(app_id=schedule.app_id, schedule=schedule.name)
    seen = set(runs.filter(slot__in=slots).values_list("slot", flat=True))
    missing = [slot for slot in slots if slot not in seen]
    fields = {"app_id": schedule.app_id, "schedule": schedule.name, "started_at": now}
    for slot in missing:
        record_missed(
            fields,
            slot,
            f"no fire arrived for slot {slot} (beat or the "
            f"broker was down); catch-up policy: {schedule.catch_up}",
        )
    if missing and schedule.catch_up == CatchUp.RUN_ONCE:
        latest = missing[-1]
        # Cron labels start with a digit; manual:, disabled:… sort after "A".
        ran_since = runs.filter(slot__gt=latest, slot__lt="A").exclude(
            status__in=ScheduleRun.SKIPPED
        )
        if not ran_since.exists():
            enqueue(schedule.app_id, schedule.name, latest)
    if missing:
        logger.warning("%s: %d missed slot(s) recorded", schedule, len(missing))
    return len(missing)


def _slots_between(cron, since, until):
    """Return the labels of cron matches in ``(since, until]``, oldest first
    (at most SLOTS_MAX, the latest ones)."""
    floor = max(since, until - datetime.timedelta(days=366))
    walker = croniter(cron, floor.astimezone(datetime.UTC))
    slots = []
    while (moment := walker.get_next(datetime.datetime)) <= until:
        slots.append(slot_label(moment))
        if len(slots) > SLOTS_MAX:
            slots.pop(0)
    return slots


def _enqueue(app_id, name, slot):
    send_or_fail(catch_up_due, app_id=app_id, schedule=name, slot=slot)
