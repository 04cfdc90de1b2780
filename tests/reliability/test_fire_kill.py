"""A worker SIGKILLed mid-fire, and mid-shard: nothing lost, nobody notified twice.

Real Celery worker processes (tests/scheduler/worker.py) on the machine's Redis
or kombu's filesystem:// broker, against the test's own database.
"""

import time

import pytest
from asgiref.sync import async_to_sync
from django.utils import timezone

from apps.accounts.partition import Partition
from apps.extensions.invocation import prepare_tool
from apps.extensions.sync import sync_extensions
from apps.notifications.models import Notification
from apps.scheduler.models import Delivery, Schedule, ScheduleRun, ScheduleShardRun
from apps.scheduler.tasks import fire_shards_task
from apps.store.connections import DjangoConnection
from apps.store.core import DocumentStore
from imperal_platform.celery import app as celery_app
from tests.scheduler.worker import (  # noqa: F401 (workers_fixture: "workers")
    Broker,
    Worker,
    wait_until,
    workers_fixture,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
TICKER = "tests.fixtures.extensions.ticker"
DIGEST = "tests.scheduler.digest_extension"
SUBSCRIBERS = [f"user{n:03d}" for n in range(80)]
SHARD_TIMEOUT = 8  # seconds; each shard's 40 users take about 4 s
GRACE = 1


@pytest.fixture
def ticker(use_extensions, alice, bob, charlie):
    sync_extensions(use_extensions(TICKER))
    for uid in ("alice", "bob"):
        async_to_sync(prepare_tool("ticker", "subscribe", uid).run)()


@pytest.fixture
def digest(use_extensions):
    sync_extensions(use_extensions(DIGEST))
    store = DocumentStore(DjangoConnection())
    for uid in SUBSCRIBERS:
        store.create(Partition("default", "digest", uid), "user", "subscriptions", {})
    system = Partition("default", "digest", "__system__")
    store.set(system, "system", "settings/pace", {"pause": 0.1})
    Schedule.objects.filter(app_id="digest", name="daily").update(
        shards=2, timeout_seconds=SHARD_TIMEOUT
    )


def shard_env(visibility):
    return {
        "CELERY_VISIBILITY_TIMEOUT": str(visibility),
        "IMPERAL_SCHEDULE_LEASE_GRACE": str(GRACE),
        "IMPERAL_SCHEDULE_SHARDS_PER_TASK": "2",  # both shards on one event loop
        "IMPERAL_SCHEDULE_DELIVERY_BATCH": "5",
        "IMPERAL_SCHEDULE_HEARTBEAT": "0.5",
    }


def send_shards(broker, run_id, indices):
    """Queue a shard task on ``broker``, as a re-run by an operator would."""
    with celery_app.connection_for_write(
        broker.url, transport_options=broker.transport_options
    ) as conn:
        fire_shards_task.apply_async(
            kwargs={"run_id": run_id, "indices": indices},
            queue=broker.queue,
            connection=conn,
        )


def sleep_past_shard_leases(run, margin=1.0):
    """Sleep until a second after the last lease of ``run``'s running shards ends.

    The killed worker took its leases (SHARD_TIMEOUT + GRACE) before it died,
    so part of them has passed while the second worker started.
    """
    leases = ScheduleShardRun.objects.filter(run=run, status="running").values_list(
        "lease_expires_at", flat=True
    )
    now = timezone.now()
    remaining = max(((lease - now).total_seconds() for lease in leases), default=0)
    time.sleep(max(remaining, 0) + margin)


def digests_per_user():
    counts = {}
    notes = Notification.objects.filter(app_id="digest")
    for uid in notes.values_list("user_id", flat=True):
        counts[uid] = counts.get(uid, 0) + 1
    return counts


@pytest.mark.parametrize(
    "kind", [pytest.param("redis", marks=pytest.mark.redis), "filesystem"]
)
def test_a_shard_killed_mid_way_and_re_run_notifies_everyone_exactly_once(
    digest, workers, tmp_path, kind
):
    broker = Broker(kind, tmp_path)
    env = shard_env(visibility=SHARD_TIMEOUT + GRACE + 4)
    first = Worker(broker, tmp_path, extensions=DIGEST, env=env).start()
    workers.append(first)
    broker.send_fire("digest", "daily", slot="manual:killed-shard", trigger="manual")
    run = wait_until(
        lambda: ScheduleRun.objects.filter(slot="manual:killed-shard").first(),
        60,
        f"the fire to be claimed\n{first.log()}",
    )
    wait_until(
        lambda: Delivery.objects.filter(run=run).count() >= 10,
        60,
        f"some deliveries\n{first.log()}",
    )
    first.kill()
    delivered = Delivery.objects.filter(run=run).count()
    assert 10 <= delivered < len(SUBSCRIBERS)
    # What the dead worker stored is exactly what it recorded as delivered.
    assert sum(digests_per_user().values()) == delivered
    assert set(digests_per_user()) == set(
        Delivery.objects.filter(run=run).values_list("user_id", flat=True)
    )

    second = Worker(broker, tmp_path, extensions=DIGEST, env=env).start()
    workers.append(second)
    if kind == "filesystem":  # no redelivery there: re-run once the leases passed
        sleep_past_shard_leases(run)
        send_shards(broker, run.pk, [0, 1])
    final = wait_until(
        lambda: ScheduleRun.objects.exclude(status="running").filter(pk=run.pk).first(),
        120,
        f"the run to finish\n{second.log()}",
    )
    assert final.status == "success", final.as_dict()
    assert digests_per_user() == {uid: 1 for uid in SUBSCRIBERS}
    assert final.users_fanned_out == len(SUBSCRIBERS)
    shards = ScheduleShardRun.objects.filter(run=run).exclude(
        status="skipped-duplicate"
    )
    assert sorted((s.index, s.status, s.attempts) for s in shards) == [
        (0, "success", 2),
        (1, "success", 2),
    ]


@pytest.mark.redis
def test_a_fire_whose_worker_is_killed_is_rerun_or_recorded(ticker, workers, tmp_path):
    broker = Broker("redis", tmp_path)
    Schedule.objects.filter(app_id="ticker", name="slow").update(timeout_seconds=4)
    quick_recovery = {
        "CELERY_VISIBILITY_TIMEOUT": "8",
        "IMPERAL_SCHEDULE_LEASE_GRACE": "2",
    }
    first = Worker(broker, tmp_path, extensions=TICKER, env=quick_recovery).start()
    workers.append(first)
    broker.send_fire("ticker", "slow", slot="manual:killed", trigger="manual")
    wait_until(
        lambda: ScheduleRun.objects.filter(
            slot="manual:killed", status="running"
        ).exists(),
        60,
        f"the fire to start\n{first.log()}",
    )
    first.kill()
    assert ScheduleRun.objects.get(slot="manual:killed").status == "running"

    second = Worker(broker, tmp_path, extensions=TICKER, env=quick_recovery).start()
    workers.append(second)
    final = wait_until(
        lambda: (
            ScheduleRun.objects.filter(slot="manual:killed")
            .exclude(status="running")
            .first()
        ),
        90,
        f"the lost fire to be re-run or recorded\n{second.log()}",
    )
    # Re-run by the second worker (it then times out by design), never twice at once.
    assert final.attempts == 2, final.as_dict()
    assert final.status == "timeout"
    claimed = ScheduleRun.objects.filter(slot="manual:killed").exclude(
        status__in=ScheduleRun.SKIPPED
    )
    assert claimed.count() == 1
    started = Notification.objects.filter(app_id="ticker", message="slow started")
    assert started.count() == 2
