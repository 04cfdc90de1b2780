"""Finished schedule runs, webhook calls and security events are forgotten after
their retention period; running claims and younger rows never."""

import datetime

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from apps.accounts.models import SecurityEvent
from apps.extensions.models import WebhookCall
from apps.extensions.sync import sync_extensions
from apps.scheduler.beat import PRUNE_RECORDS_TASK, RECORDS_PRUNER_NAME
from apps.scheduler.models import ScheduleRun
from apps.scheduler.retention import prune_finished_runs, prune_records
from apps.scheduler.tasks import prune_records_task

pytestmark = pytest.mark.django_db


def _run(slot, status, age_days, now):
    started = now - datetime.timedelta(days=age_days)
    return ScheduleRun.objects.create(
        app_id="ticker",
        schedule="every_minute",
        slot=slot,
        status=status,
        started_at=started,
        finished_at=None if status == "running" else started,
        lease_expires_at=started + datetime.timedelta(minutes=5),
    )


def test_it_deletes_finished_runs_past_retention_and_keeps_the_rest(settings):
    settings.IMPERAL_SCHEDULE_RUN_RETENTION_DAYS = 30
    now = timezone.now()
    old = [
        _run(f"old-{n}", status, 31, now)
        for n, status in enumerate(
            ["success", "failed", "timeout", "skipped-duplicate"]
        )
    ]
    kept = [
        _run("old-but-running", "running", 31, now),
        _run("recent", "success", 29, now),
    ]
    assert prune_finished_runs(now=now, batch_size=3) == len(old)
    assert set(ScheduleRun.objects.values_list("pk", flat=True)) == {
        run.pk for run in kept
    }


def test_a_retention_of_zero_days_keeps_every_run(settings):
    settings.IMPERAL_SCHEDULE_RUN_RETENTION_DAYS = 0
    now = timezone.now()
    _run("ancient", "success", 3650, now)
    assert prune_finished_runs(now=now) == 0
    assert ScheduleRun.objects.count() == 1


def _webhook_call(age_days, now):
    call = WebhookCall.objects.create(
        app_id="webhook-probe", path="/events", method="POST", status_code=200
    )
    # created_at is auto_now_add: set the age afterwards, as time would have.
    WebhookCall.objects.filter(pk=call.pk).update(
        created_at=now - datetime.timedelta(days=age_days)
    )
    return call.pk


def _security_event(age_days, now, bucket):
    event = SecurityEvent.objects.create(
        kind="as_user_from_user_context",
        tenant_id="default",
        app_id="probe",
        user_id="alice",
        bucket=bucket,
    )
    SecurityEvent.objects.filter(pk=event.pk).update(
        created_at=now - datetime.timedelta(days=age_days)
    )
    return event.pk


def test_it_deletes_webhook_calls_and_security_events_past_their_retention(settings):
    settings.IMPERAL_WEBHOOK_CALL_RETENTION_DAYS = 30
    settings.IMPERAL_SECURITY_EVENT_RETENTION_DAYS = 90
    now = timezone.now()
    for age in (31, 45, 400):
        _webhook_call(age, now)
    kept_calls = {_webhook_call(age, now) for age in (0, 29)}
    for bucket, age in enumerate((91, 365)):
        _security_event(age, now, bucket)
    kept_events = {_security_event(age, now, 10 + n) for n, age in enumerate((1, 89))}

    assert prune_records(now=now) == {"webhook_calls": 3, "security_events": 2}
    assert set(WebhookCall.objects.values_list("pk", flat=True)) == kept_calls
    assert set(SecurityEvent.objects.values_list("pk", flat=True)) == kept_events
    assert prune_records(now=now) == {"webhook_calls": 0, "security_events": 0}


def test_a_retention_of_zero_days_keeps_every_call_and_event(settings):
    settings.IMPERAL_WEBHOOK_CALL_RETENTION_DAYS = 0
    settings.IMPERAL_SECURITY_EVENT_RETENTION_DAYS = 0
    now = timezone.now()
    _webhook_call(3650, now)
    _security_event(3650, now, 0)
    assert prune_records(now=now) == {"webhook_calls": 0, "security_events": 0}
    assert (WebhookCall.objects.count(), SecurityEvent.objects.count()) == (1, 1)


def test_the_record_retention_runs_hourly_from_beat(use_extensions):
    sync_extensions(use_extensions("tests.fixtures.extensions.probe"))
    pruner = PeriodicTask.objects.get(name=RECORDS_PRUNER_NAME)
    assert pruner.task == PRUNE_RECORDS_TASK == prune_records_task.name
    assert (pruner.crontab.minute, pruner.crontab.hour) == ("41", "*")
