"""Real Celery workers with embedded beat: one run per slot, crashes never lost."""

import datetime

import pytest
from asgiref.sync import async_to_sync
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from apps.extensions.invocation import prepare_tool
from apps.extensions.sync import sync_extensions
from apps.notifications.models import Notification
from apps.scheduler.models import Schedule, ScheduleRun

from .worker import Broker, Worker, wait_until, workers_fixture  # noqa: F401

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
TICKER = "tests.fixtures.extensions.ticker"


@pytest.fixture
def ticker(use_extensions, alice, bob, charlie):
    sync_extensions(use_extensions(TICKER))
    for uid in ("alice", "bob"):  # charlie never subscribes
        async_to_sync(prepare_tool("ticker", "subscribe", uid).run)()
    # Beat then finds the every-minute entry due at once instead of at the next
    # minute boundary: one slot now, the next one a minute later.
    PeriodicTask.objects.filter(name="ticker:every_minute").update(
        last_run_at=timezone.now() - datetime.timedelta(seconds=61)
    )


def runs(**filters):
    return ScheduleRun.objects.filter(app_id="ticker", **filters)


def beat_slots():
    return sorted(
        set(
            runs(schedule="every_minute", trigger="beat", status="success").values_list(
                "slot", flat=True
            )
        )
    )


def assert_one_success_per_slot(slots):
    for slot in slots:
        claimed = runs(schedule="every_minute", slot=slot).exclude(
            status__in=ScheduleRun.SKIPPED
        )
        assert [r.status for r in claimed] == ["success"], slot
    first, second = (
        datetime.datetime.strptime(s, "%Y-%m-%dT%H:%MZ") for s in slots[:2]
    )
    assert second - first == datetime.timedelta(minutes=1)
    # Every user with a document in the collection, once per run, and no one else.
    ticks = Notification.objects.filter(app_id="ticker", message="tick")
    successes = runs(schedule="every_minute", status="success").count()
    per_user = {u: ticks.filter(user_id=u).count() for u in ("alice", "bob", "charlie")}
    assert per_user == {"alice": successes, "bob": successes, "charlie": 0}


def test_a_worker_with_beat_on_the_filesystem_broker(ticker, workers, tmp_path):
    broker = Broker("filesystem", tmp_path)
    Schedule.objects.filter(app_id="ticker", name="slow").update(timeout_seconds=2)
    worker = Worker(broker, tmp_path, extensions=TICKER, beat=True).start()
    workers.append(worker)

    # Beat fires the every-minute schedule once for the current slot...
    wait_until(lambda: len(beat_slots()) >= 1, 60, f"a first beat fire\n{worker.log()}")
    # ...meanwhile the same worker handles a failure, a timeout and a redelivery.
    broker.send_fire("ticker", "broken", slot="manual:broken", trigger="manual")
    broker.send_fire("ticker", "slow", slot="manual:slow", trigger="manual")
    for _ in range(2):  # one task delivered twice
        broker.send_fire(
            "ticker", "every_minute", slot="manual:twice", trigger="manual"
        )
    wait_until(lambda: runs(slot="manual:twice").count() == 2, 60, "both deliveries")
    assert runs(slot="manual:broken").get().status == "failed"
    timed_out = runs(slot="manual:slow").get()
    assert (timed_out.status, timed_out.error) == (
        "timeout",
        "exceeded its timeout of 2 s",
    )
    assert sorted(runs(slot="manual:twice").values_list("status", flat=True)) == [
        "skipped-duplicate",
        "success",
    ]

    # ...and the worker goes on serving: beat's next minute slot fires once.
    wait_until(
        lambda: len(beat_slots()) >= 2, 90, f"a second beat slot\n{worker.log()}"
    )
    assert_one_success_per_slot(beat_slots())


@pytest.mark.redis
def test_a_worker_with_beat_on_the_redis_broker(ticker, workers, tmp_path):
    broker = Broker("redis", tmp_path)
    worker = Worker(broker, tmp_path, extensions=TICKER, beat=True).start()
    workers.append(worker)
    wait_until(lambda: len(beat_slots()) >= 2, 130, f"two beat slots\n{worker.log()}")
    assert_one_success_per_slot(beat_slots())
