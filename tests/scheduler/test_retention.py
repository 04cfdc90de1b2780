"""Finished schedule runs are forgotten after the retention period; claims never."""

import datetime

import pytest
from django.utils import timezone

from apps.scheduler.models import ScheduleRun
from apps.scheduler.retention import prune_finished_runs

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
