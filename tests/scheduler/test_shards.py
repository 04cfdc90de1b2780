"""Sharded fires: every user exactly once, in a stable shard, and a retried
shard skips the users already delivered."""

import io
import json

import pytest
from asgiref.sync import async_to_sync
from django.core.management import call_command

from apps.accounts.partition import Partition
from apps.extensions.fanout import FanOut
from apps.extensions.invocation import prepare_schedule
from apps.extensions.sync import sync_extensions
from apps.notifications.models import Notification
from apps.scheduler.fire import fire_schedule, manual_slot
from apps.scheduler.models import Delivery, Schedule, ScheduleShardRun
from apps.scheduler.shards import retry_shards
from apps.store.connections import DjangoConnection
from apps.store.core import DocumentStore
from apps.store.shards import Shard, shard_of

pytestmark = pytest.mark.django_db
DIGEST = "tests.scheduler.digest_extension"
SUBSCRIBERS = [f"user{n:03d}" for n in range(60)]


@pytest.fixture
def digest(use_extensions, alice, bob, charlie, settings):
    settings.IMPERAL_EXTENSION_CONFIG = {}
    settings.IMPERAL_SCHEDULE_DELIVERY_BATCH = 7  # several batches per shard
    sync_extensions(use_extensions(DIGEST))
    store = DocumentStore(DjangoConnection())
    for uid in SUBSCRIBERS:
        partition = Partition("default", "digest", uid)
        store.create(partition, "user", "subscriptions", {"topic": "news"})
    # charlie has data in another collection only: never a subscriber.
    store.create(Partition("default", "digest", "charlie"), "user", "notes", {})
    return store


def shards(count, name="daily"):
    Schedule.objects.filter(app_id="digest", name=name).update(shards=count)


def fire(name="daily"):
    run = fire_schedule(
        "digest", name, slot=manual_slot(), trigger="manual", local=True
    )
    run.refresh_from_db()
    return run


def digests_per_user(**filters):
    notes = Notification.objects.filter(app_id="digest", **filters)
    counts = {}
    for uid in notes.values_list("user_id", flat=True):
        counts[uid] = counts.get(uid, 0) + 1
    return counts


def users_of_shard(shard):
    """Return the ids list_users yields in a system context limited to ``shard``."""
    fanout = FanOut()
    fanout.shard = shard
    _, ctx = prepare_schedule("digest", "daily", fanout=fanout)

    async def collect():
        return [str(uid) async for uid in ctx.store.list_users("subscriptions")]

    return async_to_sync(collect)()


def test_a_sharded_fire_notifies_every_subscriber_exactly_once_and_no_one_else(digest):
    shards(4)
    run = fire()
    assert (run.status, run.shards, run.users_fanned_out) == ("success", 4, 60)
    assert digests_per_user() == {uid: 1 for uid in SUBSCRIBERS}
    rows = list(ScheduleShardRun.objects.filter(run=run).order_by("index"))
    assert [(r.index, r.status, r.attempts) for r in rows] == [
        (i, "success", 1) for i in range(4)
    ]
    # Each shard ran the unchanged handler over its own users only.
    expected = [sum(shard_of(u, 4).index == i for u in SUBSCRIBERS) for i in range(4)]
    assert [r.users_fanned_out for r in rows] == expected
    assert [r.result for r in rows] == [{"users": n} for n in expected]
    assert run.result == [{"users": n} for n in expected]
    assert Delivery.objects.filter(run=run).count() == 60


def test_ext_fire_runs_a_sharded_schedules_shards_and_prints_the_finished_run(
    digest,
):
    shards(3)
    out = io.StringIO()
    call_command("ext", "fire", "digest", "daily", stdout=out)
    printed = json.loads(out.getvalue())
    assert (printed["status"], printed["shards"]) == ("success", 3)
    assert printed["users_fanned_out"] == 60
    assert digests_per_user() == {uid: 1 for uid in SUBSCRIBERS}
    statuses = ScheduleShardRun.objects.values_list("status", flat=True)
    assert sorted(statuses) == ["success"] * 3


def test_imperal_sdks_loop_is_sharded_the_same_way(digest):
    shards(3, "sdk_loop")
    run = fire("sdk_loop")
    assert (run.status, run.users_fanned_out) == ("success", 60)
    assert digests_per_user(message="sdk digest") == {uid: 1 for uid in SUBSCRIBERS}


def test_shards_split_the_users_by_a_stable_hash_on_every_backend(digest):
    for count in (1, 3, 8):
        found = [users_of_shard(Shard(i, count)) for i in range(count)]
        assert sorted(u for part in found for u in part) == SUBSCRIBERS
        for index, part in enumerate(found):
            # The database's hash is Python's: a user's shard never moves.
            assert all(shard_of(u, count).index == index for u in part)
            assert users_of_shard(Shard(index, count)) == part  # the next fire


def test_list_users_pages_through_a_shard(digest):
    fanout = FanOut()
    fanout.shard = Shard(1, 2)
    _, ctx = prepare_schedule("digest", "daily", fanout=fanout)

    async def collect(page_size):
        found = ctx.store.list_users("subscriptions", page_size=page_size)
        return [str(uid) async for uid in found]

    whole = async_to_sync(collect)(1000)
    assert async_to_sync(collect)(4) == whole  # 4 ids a page, same users, same order
    assert whole and all(Shard(1, 2).holds(u) for u in whole)


def test_query_all_in_a_shard_returns_only_that_shards_documents(digest):
    shards(2, "everyone")
    run = fire("everyone")
    first, second = (set(r["users"]) for r in run.result)
    assert first | second == set(SUBSCRIBERS) and not first & second
    assert all(Shard(0, 2).holds(u) for u in first)


def test_a_retried_shard_skips_the_users_already_delivered(digest, settings):
    shards(2)
    settings.IMPERAL_EXTENSION_CONFIG = {"digest": {"explode_after": 12}}
    run = fire()
    assert run.status == "failed" and "exploded after 12 users" in run.error
    delivered = set(Delivery.objects.filter(run=run).values_list("user_id", flat=True))
    # Each shard finished 11 users (its 12th raised mid-iteration): those are
    # recorded with their notifications, the 12th's notification was dropped.
    assert len(delivered) == 22
    assert digests_per_user() == {uid: 1 for uid in delivered}

    settings.IMPERAL_EXTENSION_CONFIG = {}
    run = retry_shards(run, local=True)
    run.refresh_from_db()
    assert run.status == "success", run.error
    assert digests_per_user() == {uid: 1 for uid in SUBSCRIBERS}
    assert run.users_fanned_out == 60
    rows = ScheduleShardRun.objects.filter(run=run).order_by("index")
    assert [(r.status, r.attempts) for r in rows] == [("success", 2), ("success", 2)]


def test_a_shard_delivered_twice_is_skipped_as_a_duplicate(digest):
    from apps.scheduler.shards import run_shards

    shards(2)
    run = fire()
    assert run_shards(run.pk, [0, 1]) == ["skipped-duplicate", "skipped-duplicate"]
    assert digests_per_user() == {uid: 1 for uid in SUBSCRIBERS}
    skipped = ScheduleShardRun.objects.filter(run=run, status="skipped-duplicate")
    assert skipped.count() == 2
    assert "already claimed (it is success)" in skipped.first().error


def test_shards_are_queued_as_many_per_message_as_configured(settings):
    from apps.scheduler.shards import task_groups

    assert task_groups([0, 1, 2, 3, 4], 1) == [[0], [1], [2], [3], [4]]
    assert task_groups([0, 1, 2, 3, 4], 2) == [[0, 1], [2, 3], [4]]
    assert task_groups([0, 1, 2, 3, 4, 5, 6, 7], 4) == [[0, 1, 2, 3], [4, 5, 6, 7]]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_shards_on_one_event_loop_share_the_async_pool(digest, settings):
    from apps.store import pool

    settings.IMPERAL_STORE_ASYNC_POOL = 4
    try:
        shards(8)
        run = fire()
    finally:
        pool.close_all()
    assert (run.status, run.users_fanned_out) == ("success", 60), run.error
    assert digests_per_user() == {uid: 1 for uid in SUBSCRIBERS}


def test_a_sharded_fire_without_a_dispatcher_queues_its_shards_as_celery_tasks(
    digest, celery_eager, settings
):
    settings.IMPERAL_SCHEDULE_SHARDS_PER_TASK = 2
    shards(4)
    run = fire_schedule("digest", "daily", slot=manual_slot(), trigger="manual")
    run.refresh_from_db()
    assert (run.status, run.users_fanned_out) == ("success", 60)
    assert digests_per_user() == {uid: 1 for uid in SUBSCRIBERS}
    rows = ScheduleShardRun.objects.filter(run=run)
    assert sorted(rows.values_list("status", flat=True)) == ["success"] * 4
    # Two messages of two shards each, each shard claimed under its task's id.
    task_ids = set(rows.values_list("task_id", flat=True))
    assert len(task_ids) == 2 and "" not in task_ids
