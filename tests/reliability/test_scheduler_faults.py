"""Scheduler faults: the broker down when a slot is due, beat down through slots.

A slot is never silently lost: it is recorded as ``missed``, and the schedule's
catch-up policy (run once late, or skip) decides what runs.
"""

import datetime
import os
import signal
import socket
import subprocess
import sys

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings as django_settings
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from apps.extensions.invocation import prepare_tool
from apps.extensions.sync import sync_extensions
from apps.notifications.models import Notification
from apps.scheduler.cron import slot_for, slot_label
from apps.scheduler.fire import fire_schedule
from apps.scheduler.missed import record_missed_slots
from apps.scheduler.models import Schedule, ScheduleRun
from tests.scheduler.worker import database_url, wait_until

TICKER = "tests.fixtures.extensions.ticker"
UTC = datetime.UTC
T0 = datetime.datetime(2026, 11, 27, 8, 0, 30, tzinfo=UTC)


@pytest.fixture
def ticker(use_extensions, alice, bob, charlie):
    sync_extensions(use_extensions(TICKER))
    for uid in ("alice", "bob"):
        async_to_sync(prepare_tool("ticker", "subscribe", uid).run)()


def every_minute():
    return Schedule.objects.get(app_id="ticker", name="every_minute")


def runs(**filters):
    return ScheduleRun.objects.filter(
        app_id="ticker", schedule="every_minute", **filters
    )


def ticks():
    notes = Notification.objects.filter(app_id="ticker", message="tick")
    return {u: notes.filter(user_id=u).count() for u in ("alice", "bob", "charlie")}


class Queued(list):
    """Stands in for the Celery queue a catch-up fire is sent to."""

    def __call__(self, app_id, name, slot):
        self.append((app_id, name, slot))

    def run_all(self):
        return [
            fire_schedule(app_id, name, slot=slot, trigger="catch-up")
            for app_id, name, slot in self
        ]


@pytest.mark.django_db
def test_beat_down_through_slots_records_each_as_missed_and_runs_the_latest_once(
    ticker, settings
):
    settings.IMPERAL_SCHEDULE_MISSED_AFTER = 60
    record_missed_slots(now=T0)  # the first check: from here on, slots are watched
    queued = Queued()
    # Beat was down from 08:00 to 08:10: nobody fired 07:59:30 .. 08:09.
    found = record_missed_slots(now=T0 + datetime.timedelta(minutes=10), enqueue=queued)
    labels = [f"2026-11-27T08:{m:02d}Z" for m in range(10)]
    assert found == 10
    assert sorted(runs(status="missed").values_list("slot", flat=True)) == labels
    assert "catch-up policy: run-once" in runs(status="missed").first().error
    assert queued == [("ticker", "every_minute", "2026-11-27T08:09Z")]

    (late,) = queued.run_all()
    assert (late.status, late.trigger, late.slot) == (
        "success",
        "catch-up",
        "2026-11-27T08:09Z",
    )
    assert ticks() == {"alice": 1, "bob": 1, "charlie": 0}  # once, not ten times
    # The next check finds nothing new: each slot is recorded once.
    again = Queued()
    assert (
        record_missed_slots(now=T0 + datetime.timedelta(minutes=10), enqueue=again) == 0
    )
    assert again == [] and runs(status="missed").count() == 10


@pytest.mark.django_db
def test_under_the_skip_policy_missed_slots_are_recorded_and_not_run(ticker, settings):
    settings.IMPERAL_SCHEDULE_MISSED_AFTER = 60
    Schedule.objects.filter(pk=every_minute().pk).update(catch_up="skip")
    record_missed_slots(now=T0)
    queued = Queued()
    assert record_missed_slots(now=T0 + datetime.timedelta(minutes=3), enqueue=queued)
    assert queued == []
    assert runs(status="missed").count() == 3
    assert "catch-up policy: skip" in runs(status="missed").first().error
    assert ticks() == {"alice": 0, "bob": 0, "charlie": 0}


@pytest.mark.django_db
def test_slots_that_ran_or_were_disabled_are_not_missed(ticker, settings):
    settings.IMPERAL_SCHEDULE_MISSED_AFTER = 60
    record_missed_slots(now=T0)
    # 08:00 ran; 08:01 and 08:02 were missed, but 08:03 has run since: no catch-up.
    for minute in (0, 3):
        fire_schedule("ticker", "every_minute", now=T0.replace(minute=minute))
    queued = Queued()
    record_missed_slots(now=T0 + datetime.timedelta(minutes=4), enqueue=queued)
    assert sorted(runs(status="missed").values_list("slot", flat=True)) == [
        "2026-11-27T08:01Z",
        "2026-11-27T08:02Z",
    ]
    assert queued == []
    # A schedule switched off misses nothing while it is off.
    PeriodicTask.objects.filter(name="ticker:every_minute").update(enabled=False)
    record_missed_slots(now=T0 + datetime.timedelta(minutes=30), enqueue=queued)
    assert runs(status="missed").count() == 2 and queued == []


@pytest.mark.django_db
@pytest.mark.parametrize("policy", ["run-once", "skip"])
def test_a_late_beat_fire_is_recorded_missed_and_follows_the_policy(
    ticker, settings, policy
):
    settings.IMPERAL_SCHEDULE_LATE_AFTER = 120
    Schedule.objects.filter(app_id="ticker", name="paced").update(catch_up=policy)
    # "paced" is due at 00:00 on January 1st; beat, down over midnight, came
    # back and found it due ten minutes late.
    due = datetime.datetime(2027, 1, 1, 0, 10, 5, tzinfo=UTC)
    run = fire_schedule("ticker", "paced", due_at=due, now=due)
    missed = ScheduleRun.objects.get(app_id="ticker", status="missed")
    assert (missed.schedule, missed.slot) == ("paced", "2027-01-01T00:00Z")
    assert "beat fired slot" in missed.error and f"policy: {policy}" in missed.error
    paced = Notification.objects.filter(app_id="ticker", message="paced")
    if policy == "skip":
        assert run.pk == missed.pk and not paced.exists()
    else:
        assert (run.status, run.trigger, run.slot) == (
            "success",
            "catch-up",
            "2027-01-01T00:00Z",
        )
        assert sorted(paced.values_list("user_id", flat=True)) == ["alice", "bob"]
    # A beat fire on time is not missed.
    fire_schedule("ticker", "paced", due_at=due.replace(minute=0, second=3))
    assert ScheduleRun.objects.filter(status="missed").count() == 1


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_broker_down_when_a_slot_is_due_leaves_a_missed_slot_then_a_catch_up(
    ticker, settings, tmp_path
):
    """A real `celery beat` whose broker (a port nobody listens on) is down."""
    settings.IMPERAL_SCHEDULE_MISSED_AFTER = 0
    now = timezone.now()
    slot = slot_label(slot_for("* * * * *", now))
    # Slots were checked up to before this one; beat finds the entry due at once.
    Schedule.objects.filter(pk=every_minute().pk).update(
        checked_until=now - datetime.timedelta(minutes=2)
    )
    PeriodicTask.objects.filter(name="ticker:every_minute").update(
        last_run_at=now - datetime.timedelta(seconds=61)
    )
    log = tmp_path / "beat.log"
    env = {
        **os.environ,
        "CELERY_BROKER_URL": f"redis://127.0.0.1:{free_port()}/0",
        "DATABASE_URL": database_url(),
        "SECRET_KEY": django_settings.SECRET_KEY,
        "IMPERAL_EXTENSIONS": TICKER,
        "IMPERAL_VAR_DIR": str(django_settings.VAR_DIR),
    }
    with open(log, "w") as out:
        beat = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "imperal_platform",
                "beat",
                "-s",
                str(tmp_path / "beat.db"),
                "--loglevel=INFO",
            ],
            cwd=django_settings.BASE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_until(
            lambda: "Connection error" in log.read_text(), 60, "beat to hit the broker"
        )
    finally:
        os.killpg(beat.pid, signal.SIGKILL)
        beat.wait(timeout=10)
    # Beat connects only to send what is due (the ticker entry): it could not.
    assert not runs(slot=slot).exists()

    # Once the broker is back, the per-minute check records the slot and queues
    # the catch-up; the worker runs it once, late.
    queued = Queued()
    record_missed_slots(enqueue=queued)
    assert runs(slot=slot, status="missed").exists()
    # One catch-up: the latest missed slot (this one, or the next if a minute
    # passed meanwhile).
    assert [(app, name) for app, name, _ in queued] == [("ticker", "every_minute")]
    assert queued[0][2] >= slot
    assert [r.status for r in queued.run_all()] == ["success"]
    assert ticks() == {"alice": 1, "bob": 1, "charlie": 0}
