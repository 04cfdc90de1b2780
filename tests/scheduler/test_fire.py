"""fire_schedule: one run per slot, every outcome recorded."""

import datetime
import io
import json
import threading
import time

import pytest
from asgiref.sync import async_to_sync
from django.core.management import CommandError, call_command
from django.db import connections
from django.utils import timezone

from apps.extensions.invocation import prepare_tool
from apps.extensions.models import Extension as ExtensionRow
from apps.extensions.sync import sync_extensions
from apps.notifications.models import Notification
from apps.scheduler.fire import fire_schedule, reap_lost_fires
from apps.scheduler.heartbeat import Heartbeat
from apps.scheduler.missed import record_missed_slots
from apps.scheduler.models import Schedule, ScheduleRun

TICKER = "tests.fixtures.extensions.ticker"
UTC = datetime.UTC


@pytest.fixture
def ticker(use_extensions, alice, bob, charlie):
    sync_extensions(use_extensions(TICKER))
    subscribe("alice", "bob")


def subscribe(*users):
    for uid in users:
        async_to_sync(prepare_tool("ticker", "subscribe", uid).run)()


def ticks():
    """Return how many times each user was ticked (charlie never subscribed)."""
    notes = Notification.objects.filter(app_id="ticker", message="tick")
    return {
        uid: notes.filter(user_id=uid).count() for uid in ("alice", "bob", "charlie")
    }


def ticked(times):
    return {"alice": times, "bob": times, "charlie": 0}


def running_claim(slot, lease_left, schedule="every_minute"):
    """Store a claim as a worker would, its lease ending ``lease_left`` from now."""
    now = timezone.now()
    return ScheduleRun.objects.create(
        app_id="ticker",
        schedule=schedule,
        slot=slot,
        status="running",
        started_at=now,
        lease_expires_at=now + lease_left,
    )


def test_a_fire_runs_in_system_context_and_records_success(ticker):
    now = datetime.datetime(2026, 11, 27, 8, 0, 12, tzinfo=UTC)
    run = fire_schedule("ticker", "every_minute", now=now)
    run.refresh_from_db()
    assert run.status == "success"
    assert run.slot == "2026-11-27T08:00Z"
    assert run.result == {"ran_as": "__system__"}
    assert run.users_fanned_out == 2
    assert run.finished_at is not None and run.duration_ms >= 0
    assert run.worker
    assert ticks() == ticked(1)


def test_a_second_fire_for_the_same_slot_is_skipped_and_runs_nothing(ticker):
    first = fire_schedule(
        "ticker",
        "every_minute",
        now=datetime.datetime(2026, 11, 27, 8, 0, 1, tzinfo=UTC),
    )
    second = fire_schedule(
        "ticker",
        "every_minute",
        now=datetime.datetime(2026, 11, 27, 8, 0, 50, tzinfo=UTC),
    )
    assert (first.status, second.status) == ("success", "skipped-duplicate")
    assert second.slot == first.slot
    assert "already claimed (that run is success)" in second.error
    assert ticks() == ticked(1)


def test_the_slot_comes_from_when_beat_found_it_due(ticker):
    due = datetime.datetime(2026, 11, 27, 8, 0, 3, tzinfo=UTC)
    late = datetime.datetime(2026, 11, 27, 8, 2, 30, tzinfo=UTC)
    run = fire_schedule("ticker", "every_minute", due_at=due, now=late)
    assert run.slot == "2026-11-27T08:00Z"


def test_a_handler_that_raises_is_recorded_failed_with_its_traceback(ticker):
    run = fire_schedule("ticker", "broken")
    run.refresh_from_db()
    assert run.status == "failed"
    assert run.error == "LookupError: the handler raised on purpose"
    assert "Traceback" in run.traceback and "raise LookupError" in run.traceback


def test_a_handler_that_overruns_its_timeout_is_recorded_timeout(ticker, settings):
    settings.IMPERAL_EXTENSION_CONFIG = {"ticker": {"sleep": 30}}
    Schedule.objects.filter(app_id="ticker", name="slow").update(timeout_seconds=1)
    run = fire_schedule("ticker", "slow")
    run.refresh_from_db()
    assert run.status == "timeout"
    assert run.error == "exceeded its timeout of 1 s"
    assert 900 <= run.duration_ms < 5000
    # The next fire is served normally.
    assert fire_schedule("ticker", "every_minute").status == "success"


def test_a_running_claim_with_a_live_lease_is_not_run_twice(ticker):
    held = running_claim("2026-11-27T08:00Z", datetime.timedelta(minutes=5))
    run = fire_schedule("ticker", "every_minute", slot=held.slot)
    assert run.status == "skipped-duplicate"
    assert "that run is running" in run.error
    assert ticks() == ticked(0)


def test_a_claim_whose_lease_passed_is_taken_over_and_run(ticker):
    lost = running_claim("2026-11-27T08:00Z", -datetime.timedelta(minutes=1))
    run = fire_schedule("ticker", "every_minute", slot=lost.slot)
    assert run.pk == lost.pk
    lost.refresh_from_db()
    assert (lost.status, lost.attempts) == ("success", 2)
    assert ticks() == ticked(1)


def test_the_reaper_records_lost_fires_as_failed(ticker, settings):
    settings.IMPERAL_SCHEDULE_REAP_AFTER = 60
    lost = running_claim("a", -datetime.timedelta(seconds=61), schedule="slow")
    fresh = running_claim("b", -datetime.timedelta(seconds=30), schedule="slow")
    assert reap_lost_fires() == 1
    lost.refresh_from_db()
    fresh.refresh_from_db()
    assert lost.status == "failed" and "worker lost" in lost.error
    assert fresh.status == "running"


def test_a_disabled_extension_is_recorded_as_skipped(ticker):
    ExtensionRow.objects.filter(app_id="ticker").update(enabled=False)
    run = fire_schedule("ticker", "every_minute")
    assert run.status == "skipped-disabled"
    assert ticks() == ticked(0)


def test_ext_fire_takes_the_same_path_with_a_manual_slot(ticker):
    runs = []
    for _ in range(2):
        out = io.StringIO()
        call_command("ext", "fire", "ticker", "every_minute", stdout=out)
        runs.append(json.loads(out.getvalue()))
    assert [r["status"] for r in runs] == ["success", "success"]
    assert all(r["slot"].startswith("manual:") for r in runs)
    assert runs[0]["slot"] != runs[1]["slot"]
    assert runs[0]["users_fanned_out"] == 2
    assert ScheduleRun.objects.filter(trigger="manual", status="success").count() == 2


def test_ext_fire_of_unknown_schedule_is_an_error_without_a_run(ticker):
    with pytest.raises(CommandError, match="has no schedule 'nope'"):
        call_command("ext", "fire", "ticker", "nope", stdout=io.StringIO())
    assert not ScheduleRun.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_fires_of_one_slot_run_exactly_once(ticker):
    barrier = threading.Barrier(8)
    statuses = []

    def fire():
        try:
            barrier.wait()
            statuses.append(
                fire_schedule("ticker", "every_minute", slot="2026-11-27T09:00Z").status
            )
        finally:
            connections.close_all()

    threads = [threading.Thread(target=fire) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == ["skipped-duplicate"] * 7 + ["success"]
    assert ScheduleRun.objects.filter(status="success").count() == 1
    assert ticks() == ticked(1)


@pytest.mark.django_db(transaction=True)
def test_a_running_fire_shows_its_fan_out_and_progress_as_it_goes(ticker, settings):
    settings.IMPERAL_SCHEDULE_HEARTBEAT = 0.05
    settings.IMPERAL_EXTENSION_CONFIG = {"ticker": {"pause": 3}}
    finished = []

    def fire():
        try:
            finished.append(fire_schedule("ticker", "paced"))
        finally:
            connections.close_all()

    thread = threading.Thread(target=fire)
    thread.start()
    try:
        live = _first_within(
            10,
            ScheduleRun.objects.filter(
                schedule="paced", status="running", progress_percent=50
            ),
        )
    finally:
        thread.join(30)
    assert live is not None, "the running fire never reported its progress"
    assert (live.users_fanned_out, live.progress_message) == (2, "halfway")
    assert live.heartbeat_at is not None and live.finished_at is None
    run = finished[0]
    run.refresh_from_db()
    assert run.status == "success"
    assert (run.users_fanned_out, run.progress_percent) == (2, 100.0)
    assert run.progress_message == "done"


def test_a_progress_report_must_be_a_number():
    heartbeat = Heartbeat(interval=5)
    async_to_sync(heartbeat.progress)(40, "reading")
    for bad in ("half", None, True):
        with pytest.raises(TypeError, match="ctx.progress: percent must be a number"):
            async_to_sync(heartbeat.progress)(bad, "x")
    assert (heartbeat.percent, heartbeat.message) == (40.0, "reading")


def test_a_long_progress_message_is_kept_clipped_to_its_column():
    heartbeat = Heartbeat(interval=5)
    async_to_sync(heartbeat.progress)(40, "z" * 200_000)
    column = ScheduleRun._meta.get_field("progress_message").max_length
    assert len(heartbeat.message) == column
    assert heartbeat.message.endswith("…(200000 chars)")


def _first_within(seconds, queryset):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = queryset.first()
        if found is not None:
            return found
        time.sleep(0.05)
    return None


def test_a_missed_slot_is_queued_as_a_celery_catch_up_fire(
    ticker, celery_eager, settings
):
    settings.IMPERAL_SCHEDULE_MISSED_AFTER = 60
    start = datetime.datetime(2026, 11, 27, 8, 0, 30, tzinfo=UTC)
    record_missed_slots(now=start)  # from here on, slots are watched
    # Nobody fired 08:00, 08:01, 08:02: each is missed, the latest runs once.
    assert record_missed_slots(now=start + datetime.timedelta(minutes=3)) == 3
    runs = ScheduleRun.objects.filter(app_id="ticker", schedule="every_minute")
    assert runs.filter(status="missed").count() == 3
    late = runs.get(trigger="catch-up")
    assert (late.status, late.slot) == ("success", "2026-11-27T08:02Z")
    assert late.task_id  # it ran as the Celery fire task
    assert ticks() == ticked(1)
