"""A schedule's fire is the same in-process and isolated: sharded fan-out, the
delivery ledger of its slot, ctx.progress on its run — and an isolated worker
cannot read past its shard. The gateway's side: tests/gateway/test_fire_routes.py."""

import json
import threading
import time

import pytest
from asgiref.sync import async_to_sync

from apps.accounts.models import SecurityEvent
from apps.accounts.partition import Partition
from apps.extensions.invocation import prepare_tool
from apps.extensions.sync import sync_extensions
from apps.notifications.models import Notification
from apps.runtime.progress import ProgressRelay
from apps.scheduler.fire import fire_schedule, manual_slot
from apps.scheduler.models import Delivery, Schedule, ScheduleRun, ScheduleShardRun
from apps.scheduler.shards import retry_shards
from apps.store.connections import DjangoConnection
from apps.store.core import DocumentStore
from apps.store.shards import shard_of
from tests.compat.server import LiveServer

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
DIGEST = "tests.scheduler.digest_extension"
PROBE = "tests.fixtures.extensions.fire_probe"
APPS = ("digest", "fire-probe")
SUBSCRIBERS = [f"user{n:02d}" for n in range(24)]
BOTH = pytest.mark.parametrize("runtime", ["in-process", "isolated"], indirect=True)


@pytest.fixture(scope="module")
def fire_server(django_db_setup, django_db_blocker, tmp_path_factory):
    """The production server with both extensions isolated, one worker each."""
    live = LiveServer(
        tmp_path_factory.mktemp("fires"),
        extensions=f"{DIGEST},{PROBE}",
        env={
            "IMPERAL_EXTENSION_RUNTIME": json.dumps({app: "isolated" for app in APPS}),
            "IMPERAL_RUNTIME_POOL_SIZE": "1",
            "IMPERAL_RUNTIME_BACKOFF_MIN": "0.2",
            "IMPERAL_RUNTIME_CLAIM_WAIT": "1",
        },
    )
    live.start()
    yield live
    live.stop()


@pytest.fixture
def runtime(request, settings, use_extensions):
    """Run both extensions in the test's runtime, with subscribers to fan out to."""
    settings.IMPERAL_EXTENSION_RUNTIME = {app: request.param for app in APPS}
    settings.IMPERAL_EXTENSION_CONFIG = {}
    settings.IMPERAL_SCHEDULE_DELIVERY_BATCH = 5  # several reports per shard
    sync_extensions(use_extensions(DIGEST, PROBE))
    if request.param == "isolated":
        request.getfixturevalue("fire_server")
    store = DocumentStore(DjangoConnection())
    for app in APPS:
        for uid in SUBSCRIBERS:
            store.create(Partition("default", app, uid), "user", "subscriptions", {})
    return request.param


def fire(app, name, shards=1):
    Schedule.objects.filter(app_id=app, name=name).update(shards=shards)
    run = fire_schedule(app, name, slot=manual_slot(), trigger="manual", local=True)
    run.refresh_from_db()
    return run


def digests_per_user():
    counts = {}
    for uid in Notification.objects.filter(app_id="digest").values_list(
        "user_id", flat=True
    ):
        counts[uid] = counts.get(uid, 0) + 1
    return counts


def delivered(run):
    return set(Delivery.objects.filter(run=run).values_list("user_id", flat=True))


@BOTH
def test_a_two_shard_fire_delivers_to_every_user_exactly_once(runtime):
    run = fire("digest", "daily", shards=2)
    assert (run.status, run.users_fanned_out) == ("success", 24), run.error
    assert digests_per_user() == {uid: 1 for uid in SUBSCRIBERS}
    assert delivered(run) == set(SUBSCRIBERS)
    rows = ScheduleShardRun.objects.filter(run=run).order_by("index")
    expected = [sum(shard_of(u, 2).index == i for u in SUBSCRIBERS) for i in (0, 1)]
    assert [r.users_fanned_out for r in rows] == expected
    assert [r.result for r in rows] == [{"users": n} for n in expected]


@BOTH
def test_each_users_query_reads_the_fires_own_earlier_writes(runtime, settings):
    # Isolated, the worker reads the next users' pages ahead in one request
    # once two users asked the same query; the last user's page must still
    # show what every earlier iteration wrote to it.
    last = SUBSCRIBERS[-1]
    settings.IMPERAL_EXTENSION_CONFIG = {"digest": {"add_to": last}}
    run = fire("digest", "tally")
    assert run.status == "success", run.error
    assert run.result == {**{uid: 1 for uid in SUBSCRIBERS}, last: len(SUBSCRIBERS)}
    document_count = DocumentStore(DjangoConnection()).count(
        Partition("default", "digest", last), "subscriptions"
    )
    assert document_count == 1 + len(SUBSCRIBERS)


@BOTH
def test_query_all_in_a_shard_returns_only_that_shards_users(runtime):
    run = fire("digest", "everyone", shards=2)
    first, second = (set(result["users"]) for result in run.result)
    assert first | second == set(SUBSCRIBERS) and not first & second
    assert all(shard_of(u, 2).index == 0 for u in first)


@BOTH
def test_a_retried_shard_delivers_to_nobody_twice(runtime, settings):
    settings.IMPERAL_EXTENSION_CONFIG = {"digest": {"explode_after": 6}}
    run = fire("digest", "daily", shards=2)
    assert run.status == "failed" and "exploded after 6 users" in run.error
    # Each shard finished 5 users (its 6th raised mid-iteration): those are
    # recorded with their notifications; the 6th's notification was dropped.
    first = delivered(run)
    assert len(first) == 10
    assert digests_per_user() == {uid: 1 for uid in first}

    settings.IMPERAL_EXTENSION_CONFIG = {}
    run = retry_shards(run, local=True)
    run.refresh_from_db()
    assert run.status == "success", run.error
    assert digests_per_user() == {uid: 1 for uid in SUBSCRIBERS}
    assert delivered(run) == set(SUBSCRIBERS)
    # The re-run fanned out to the 14 users left; the run counts the slot's 24.
    assert run.users_fanned_out == 24
    rows = ScheduleShardRun.objects.filter(run=run)
    assert sorted(rows.values_list("status", "attempts")) == [("success", 2)] * 2


@BOTH
def test_progress_shows_on_the_running_fire_and_its_last_report_stays(
    runtime, settings, monkeypatch
):
    settings.IMPERAL_SCHEDULE_HEARTBEAT = 0.1
    monkeypatch.setattr(ProgressRelay, "poll_seconds", 0.1)
    finished = []
    firing = threading.Thread(
        target=lambda: finished.append(fire("fire-probe", "progress")), daemon=True
    )
    firing.start()
    try:
        seen = wait_for_progress("half way")
    finally:
        system = Partition("default", "fire-probe", "__system__")
        DocumentStore(DjangoConnection()).set(system, "system", "settings/release", {})
        firing.join(timeout=60)
    assert (seen.status, seen.progress_percent) == ("running", 50)
    run = finished[0]
    assert (run.status, run.result) == ("success", {"released": True}), run.error
    assert (run.progress_percent, run.progress_message) == (100, "done")


@BOTH
def test_a_tools_progress_reaches_the_sink_its_caller_gave(runtime, alice):
    reports = []

    async def sink(percent, message=""):
        reports.append((percent, message))

    call = prepare_tool("fire-probe", "steps", "alice", {"n": 3}, progress=sink)
    assert async_to_sync(call.run)() == {"steps": 3}
    # In-process every report; isolated at least the last (one a second leaves).
    assert reports[-1] == (100, "step 3/3")
    assert len(reports) == 3 if runtime == "in-process" else 1 <= len(reports) <= 3


def wait_for_progress(message, timeout=30):
    """Return the running fire-probe run once its progress message is ``message``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = ScheduleRun.objects.filter(app_id="fire-probe", progress_message=message)
        if run.exists():
            return run.get()
        time.sleep(0.05)
    raise AssertionError(f"no run reported {message!r} within {timeout} s")


@pytest.mark.parametrize("runtime", ["isolated"], indirect=True)
def test_an_isolated_worker_cannot_widen_its_shard(runtime):
    before = SecurityEvent.objects.of_kind("gateway_shard_mismatch").attempts()
    run = fire("fire-probe", "widen", shards=2)
    assert run.status == "success", run.error
    for index, result in enumerate(run.result):
        assert result["statuses"] == [403, 403, 200]
        # Its own shard is what its token reads, named or not.
        assert sorted(result["own"]) == [
            u for u in SUBSCRIBERS if shard_of(u, 2).index == index
        ]
    after = SecurityEvent.objects.of_kind("gateway_shard_mismatch").attempts()
    assert after - before == 4


@BOTH
def test_a_refused_held_notification_raises_where_it_is_sent(runtime):
    before = mismatches()
    run = fire("fire-probe", "picky")
    assert run.status == "success", run.error
    kinds = [kind for kind, _ in run.result["refusals"]]
    assert kinds == ["ValueError", "ValueError", "PermissionError"]
    subject, priority, other = (message for _, message in run.result["refusals"])
    assert "the limit is 255 (SUBJECT_MAX_CHARS)" in subject
    assert "priority must be one of ('low', 'normal', 'high', 'urgent')" in priority
    assert "user_id 'someone-else' is not this" in other
    sent = Notification.objects.filter(app_id="fire-probe")
    assert sorted(sent.values_list("user_id", flat=True)) == SUBSCRIBERS
    assert set(sent.values_list("message", flat=True)) == {"hello"}
    assert mismatches() - before == 1


def mismatches():
    """Return the attempts recorded of notifying another user than the context's
    (the notify core's kind in-process, the gateway's for a worker's request)."""
    kinds = ("notify_user_id_mismatch", "gateway_user_mismatch")
    return sum(SecurityEvent.objects.of_kind(kind).attempts() for kind in kinds)
