"""Keep django-celery-beat entries in step with every @ext.schedule."""

import json
import logging

from django.db import transaction
from django_celery_beat.models import CrontabSchedule, PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler

from apps.ai.tasks import PRUNE_TASK as PRUNE_AI_CALLS_TASK
from apps.ai.tasks import PRUNER_NAME as AI_CALLS_PRUNER_NAME
from apps.egress.tasks import PRUNE_TASK as PRUNE_CALLS_TASK
from apps.egress.tasks import PRUNER_NAME as CALLS_PRUNER_NAME

from .cron import InvalidCron, parse_cron
from .models import Schedule

logger = logging.getLogger(__name__)

FIRE_TASK = "imperal.fire_schedule"
SHARD_TASK = "imperal.fire_shards"
MISSED_TASK = "imperal.record_missed_slots"
MISSED_NAME = "imperal:record-missed-slots"
REAP_TASK = "imperal.reap_lost_fires"
REAPER_NAME = "imperal:reap-lost-fires"
PRUNE_TASK = "imperal.prune_schedule_runs"
PRUNER_NAME = "imperal:prune-schedule-runs"
PRUNE_RECORDS_TASK = "imperal.prune_records"
RECORDS_PRUNER_NAME = "imperal:prune-records"
PRUNE_ERRORS_TASK = "imperal.prune_recorded_errors"
ERRORS_PRUNER_NAME = "imperal:prune-recorded-errors"
SKELETON_TASK = "imperal.refresh_skeletons"
SKELETON_NAME = "imperal:refresh-skeletons"
HEALTH_TASK = "imperal.run_health_checks"
HEALTH_NAME = "imperal:health-checks"


def sync_schedules(registry):
    """Create or update one beat entry per schedule; return a list of error strings.

    A schedule that vanished from its extension is disabled, never deleted; a
    schedule an operator switched on or off keeps that state.
    """
    errors, seen = [], set()
    with transaction.atomic():
        for loaded in registry:
            for definition in loaded.ext.schedules.values():
                try:
                    fields = parse_cron(definition.cron, loaded.app_id, definition.name)
                except InvalidCron as exc:
                    errors.append(str(exc))
                    continue
                _upsert(loaded.app_id, definition.name, definition.cron, fields)
                seen.add((loaded.app_id, definition.name))
        _disable_vanished(seen)
        _ensure_maintenance()
    for error in errors:
        logger.error("%s", error)
    return errors


def _upsert(app_id, name, cron, fields):
    crontab = _crontab(fields)
    kwargs = json.dumps({"app_id": app_id, "schedule": name})
    task, created = PeriodicTask.objects.get_or_create(
        name=f"{app_id}:{name}",
        defaults={
            "task": FIRE_TASK,
            "crontab": crontab,
            "kwargs": kwargs,
            "enabled": True,
        },
    )
    if not created and (task.crontab_id, task.task, task.kwargs) != (
        crontab.pk,
        FIRE_TASK,
        kwargs,
    ):
        task.crontab, task.task, task.kwargs = crontab, FIRE_TASK, kwargs
        task.save()  # save(), not update(): beat watches PeriodicTasks.changed
    schedule, _ = Schedule.objects.update_or_create(
        app_id=app_id,
        name=name,
        defaults={"cron": cron, "periodic_task": task, "present": True},
    )
    if schedule.disabled_by_sync:
        task.enabled = True
        task.save()
        schedule.disabled_by_sync = False
        schedule.save(update_fields=["disabled_by_sync"])


def _disable_vanished(seen):
    for schedule in Schedule.objects.filter(present=True).select_related(
        "periodic_task"
    ):
        if (schedule.app_id, schedule.name) in seen:
            continue
        schedule.present = False
        task = schedule.periodic_task
        if task is not None and task.enabled:
            task.enabled = False
            task.save()
            schedule.disabled_by_sync = True
        schedule.save(update_fields=["present", "disabled_by_sync"])


def _ensure_maintenance():
    every = {"hour": "*", "day_of_month": "*", "month_of_year": "*", "day_of_week": "*"}
    for name, task, minute in (
        (REAPER_NAME, REAP_TASK, "*"),  # every minute
        (PRUNER_NAME, PRUNE_TASK, "17"),  # hourly, off the top of the hour
        (CALLS_PRUNER_NAME, PRUNE_CALLS_TASK, "23"),  # hourly: OutboundCall rows
        (AI_CALLS_PRUNER_NAME, PRUNE_AI_CALLS_TASK, "29"),  # hourly: AICall rows
        (RECORDS_PRUNER_NAME, PRUNE_RECORDS_TASK, "41"),  # webhook calls, events
        (ERRORS_PRUNER_NAME, PRUNE_ERRORS_TASK, "53"),  # hourly: recorded errors
        (SKELETON_NAME, SKELETON_TASK, "*"),  # stale @ext.skeleton sections
        (HEALTH_NAME, HEALTH_TASK, "*"),  # @ext.health_check, every 60 s
        (MISSED_NAME, MISSED_TASK, "*"),  # slots beat or the broker missed
    ):
        PeriodicTask.objects.get_or_create(
            name=name,
            defaults={"task": task, "crontab": _crontab({**every, "minute": minute})},
        )


def _crontab(fields):
    crontab = CrontabSchedule.objects.filter(**fields, timezone="UTC").first()
    return crontab or CrontabSchedule.objects.create(**fields, timezone="UTC")


class SlotStampingScheduler(DatabaseScheduler):
    """DatabaseScheduler that tells each fire when beat found it due.

    The fire's slot is computed from that moment, not from when a worker
    picks the message up, so a queue backlog cannot shift a fire into the
    next slot.
    """

    def apply_async(self, entry, producer=None, advance=True, **kwargs):
        if entry.task != FIRE_TASK:
            return super().apply_async(entry, producer, advance, **kwargs)
        entry = self.reserve(entry) if advance else entry
        unstamped = entry.kwargs
        entry.kwargs = {**(unstamped or {}), "due_at": self.app.now().isoformat()}
        try:
            return super().apply_async(entry, producer, advance=False, **kwargs)
        finally:
            entry.kwargs = unstamped
