"""ctx.cache's contract, run on every backend: round trips, entries, TTL, isolation."""

import datetime
import json
import subprocess
import sys
import time

import pytest
from asgiref.sync import async_to_sync
from imperal_sdk import Extension

from apps.cache import entries
from tests.fixtures.extensions.cache_probe import (
    DashboardView,
    InboxSnapshot,
    Note,
    ResourceSummary,
)

from .conftest import context, partition

SUMMARY = ResourceSummary(total=3, active=2, last_id="doc_1")


def run(func, *args, **kwargs):
    return async_to_sync(func)(*args, **kwargs)


def stored(core, user_id, model_name, key, app_id="cache-probe"):
    """Return the bytes the backend holds for one entry (None if absent)."""
    backend_key = entries.entry_key(
        core.key_prefix, partition(user_id, app_id), model_name, entries.hash_key(key)
    )
    return core.backend.inner.get(backend_key)


def test_a_value_set_is_read_back_as_its_model(core, ext):
    ctx = context(ext, "alice")
    run(ctx.cache.set, "summary", SUMMARY, ttl_seconds=90)
    assert run(ctx.cache.get, "summary", ResourceSummary) == SUMMARY


def test_an_absent_key_is_a_miss(core, ext, calls):
    assert run(context(ext, "alice").cache.get, "nothing:here", ResourceSummary) is None
    assert [op for op, _ in calls] == ["get"]


def test_set_replaces_the_previous_value(core, ext):
    ctx = context(ext, "alice")
    run(ctx.cache.set, "summary", SUMMARY)
    newer = SUMMARY.model_copy(update={"total": 4})
    run(ctx.cache.set, "summary", newer)
    assert run(ctx.cache.get, "summary", ResourceSummary) == newer
    assert len(core.list_entries(partition("alice"))) == 1


def test_the_entry_is_the_sdk_envelope_under_the_gateway_path_key(core, ext, calls):
    run(context(ext, "alice").cache.set, "inbox:me:INBOX", SUMMARY, ttl_seconds=90)
    key_hash = entries.hash_key("inbox:me:INBOX")
    assert calls == [
        (
            "set",
            f"{core.key_prefix}:{{default:cache-probe:alice}}:resource_summary:{key_hash}",
        )
    ]
    envelope = json.loads(stored(core, "alice", "resource_summary", "inbox:me:INBOX"))
    assert list(envelope) == ["model", "version", "data", "cached_at"]
    assert envelope["model"] == "resource_summary"
    assert envelope["version"] == 1
    assert envelope["data"] == {"total": 3, "active": 2, "last_id": "doc_1"}
    cached_at = datetime.datetime.fromisoformat(envelope["cached_at"])
    assert cached_at.utcoffset() == datetime.timedelta(0)
    assert abs(time.time() - cached_at.timestamp()) < 60


def test_the_ttl_is_the_backends_own(core, ext):
    run(context(ext, "alice").cache.set, "summary", SUMMARY, ttl_seconds=42)
    (entry,) = core.list_entries(partition("alice"))
    assert 40 <= entry.ttl_seconds <= 42


@pytest.mark.slow
def test_an_entry_really_expires(core, ext):
    ctx = context(ext, "alice")
    run(ctx.cache.set, "short", SUMMARY, ttl_seconds=5)
    assert run(ctx.cache.get, "short", ResourceSummary) == SUMMARY
    time.sleep(6)
    assert run(ctx.cache.get, "short", ResourceSummary) is None
    assert core.list_entries(partition("alice")) == []
    assert stored(core, "alice", "resource_summary", "short") is None


def test_delete_removes_the_key_under_every_registered_model(core, ext, calls):
    ctx = context(ext, "alice")
    run(ctx.cache.set, "shared", SUMMARY)
    run(ctx.cache.set, "shared", Note(text="same key, another model"))
    run(ctx.cache.set, "kept", Note(text="another key"))
    calls.clear()
    run(ctx.cache.delete, "shared")
    assert run(ctx.cache.get, "shared", ResourceSummary) is None
    assert run(ctx.cache.get, "shared", Note) is None
    assert run(ctx.cache.get, "kept", Note) == Note(text="another key")
    (delete_call,) = [keys for op, keys in calls if op == "delete"]
    assert len(delete_call) == len(ext._cache_models)
    run(ctx.cache.delete, "shared")  # idempotent


@pytest.mark.parametrize(
    "envelope",
    [
        {"model": "note", "version": 1, "data": {"text": "x"}, "cached_at": "t"},
        {"model": "resource_summary", "version": 2, "data": SUMMARY.model_dump()},
        {"model": "resource_summary", "version": 1, "data": None, "cached_at": "t"},
        {"model": "resource_summary", "version": 1, "data": {"total": "many"}},
        ["not", "an", "envelope"],
        "not json",
    ],
    ids=["other-model", "other-version", "no-data", "stale-shape", "list", "not-json"],
)
def test_an_entry_that_is_not_this_models_envelope_reads_as_a_miss(core, ext, envelope):
    raw = (
        envelope.encode()
        if isinstance(envelope, str)
        else json.dumps(envelope).encode()
    )
    key = entries.entry_key(
        core.key_prefix, partition("alice"), "resource_summary", entries.hash_key("k")
    )
    core.backend.inner.set(key, raw, 60)
    assert run(context(ext, "alice").cache.get, "k", ResourceSummary) is None


def test_users_extensions_tenants_and_the_system_do_not_share_entries(core, ext):
    run(context(ext, "alice").cache.set, "summary", SUMMARY)
    other_ext = Extension("other-app", display_name="Other", description="Other app")
    other_ext.cache_model("resource_summary")(ResourceSummary)
    outsiders = [
        context(ext, "bob"),
        context(ext, "charlie"),
        context(ext, "alice", tenant_id="acme"),
        context(other_ext, "alice"),
        context(ext, "__system__"),
    ]
    for outsider in outsiders:
        assert run(outsider.cache.get, "summary", ResourceSummary) is None
        assert core.list_entries(outsider._partition) == []
        run(outsider.cache.delete, "summary")
    system = context(ext, "__system__")
    run(system.cache.set, "summary", SUMMARY.model_copy(update={"total": 99}))
    assert run(context(ext, "alice").cache.get, "summary", ResourceSummary) == SUMMARY
    assert run(system.cache.get, "summary", ResourceSummary).total == 99
    assert [e.model for e in core.list_entries(partition("__system__"))] == [
        "resource_summary"
    ]


def test_ids_cannot_forge_another_partition(core, ext):
    # ("a:b", "c") and ("a", "b:c") must not meet: parts are encoded, not joined.
    run(context(ext, "x:y", tenant_id="t").cache.set, "k", SUMMARY)
    assert (
        run(context(ext, "y", tenant_id="t:x").cache.get, "k", ResourceSummary) is None
    )
    run(context(ext, "{evil}*", tenant_id="t").cache.set, "k", SUMMARY)
    assert len(core.list_entries(partition("{evil}*", tenant_id="t"))) == 1
    assert len(core.list_entries(partition("x:y", tenant_id="t"))) == 1


def test_list_entries_shows_one_partitions_models_ttls_and_sizes(core, ext):
    alice = context(ext, "alice")
    run(alice.cache.set, "summary", SUMMARY, ttl_seconds=90)
    run(
        alice.cache.set,
        "dashboard",
        DashboardView(spend_today=1, clicks=2, active_campaigns=3),
    )
    run(context(ext, "bob").cache.set, "summary", SUMMARY)
    listed = core.list_entries(partition("alice"))
    assert sorted((e.model, e.key_hash) for e in listed) == sorted(
        [
            ("resource_summary", entries.hash_key("summary")),
            ("dashboard_view", entries.hash_key("dashboard")),
        ]
    )
    for entry in listed:
        assert 0 < entry.ttl_seconds <= 90
        key = "summary" if entry.model == "resource_summary" else "dashboard"
        assert entry.size == len(stored(core, "alice", entry.model, key))
    assert len(core.list_entries(partition("alice"), limit=1)) == 1


def test_get_or_fetch_serves_a_hit_without_fetching(core, ext):
    ctx = context(ext, "alice")
    run(
        ctx.cache.set,
        "dashboard",
        DashboardView(spend_today=1, clicks=1, active_campaigns=1),
    )
    fetched = []

    async def fetcher():
        fetched.append(1)
        return DashboardView(spend_today=0, clicks=0, active_campaigns=0)

    got = run(ctx.cache.get_or_fetch, "dashboard", DashboardView, fetcher)
    assert got.active_campaigns == 1
    assert fetched == []


def test_get_or_fetch_fetches_once_then_serves_the_cached_value(core, ext):
    ctx = context(ext, "alice")
    fetched = []

    async def fetcher():
        fetched.append(1)
        return InboxSnapshot(message_ids=["m1"], unread=len(fetched))

    first = run(ctx.cache.get_or_fetch, "inbox", InboxSnapshot, fetcher, ttl_seconds=30)
    second = run(
        ctx.cache.get_or_fetch, "inbox", InboxSnapshot, fetcher, ttl_seconds=30
    )
    assert first == second == InboxSnapshot(message_ids=["m1"], unread=1)
    assert fetched == [1]
    (entry,) = core.list_entries(partition("alice"))
    assert (entry.model, entry.ttl_seconds <= 30) == ("inbox_snapshot", True)


def test_get_or_fetch_accepts_a_plain_function_as_fetcher(core, ext):
    ctx = context(ext, "alice")
    got = run(ctx.cache.get_or_fetch, "note", Note, lambda: Note(text="sync"))
    assert got == Note(text="sync")
    assert run(ctx.cache.get, "note", Note) == got


def test_a_failing_fetcher_raises_and_nothing_is_written(core, ext):
    async def fetcher():
        raise LookupError("upstream down")

    with pytest.raises(LookupError, match="upstream down"):
        run(context(ext, "alice").cache.get_or_fetch, "note", Note, fetcher)
    assert core.list_entries(partition("alice")) == []


def test_a_fetched_value_over_the_cap_is_served_uncached_and_logged(core, ext, caplog):
    big = Note(text="x" * (64 * 1024))
    got = run(context(ext, "alice").cache.get_or_fetch, "note", Note, lambda: big)
    assert got is big
    assert core.list_entries(partition("alice")) == []
    assert "write of key 'note' skipped" in caplog.text
    assert "I-CACHE-VALUE-SIZE-CAP-64KB" in caplog.text


@pytest.mark.slow
def test_a_second_process_sees_this_ones_entries_and_the_reverse(
    core, ext, cache_config, settings
):
    ctx = context(ext, "alice")
    run(ctx.cache.set, "from-parent", SUMMARY, ttl_seconds=60)
    config = {**cache_config["OPTIONS"]["inner"], "KEY_PREFIX": core.key_prefix}
    child = subprocess.run(
        [sys.executable, "-m", "tests.cache.other_process", json.dumps(config)],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == 0, child.stderr
    assert json.loads(child.stdout.splitlines()[-1]) == {"seen": SUMMARY.model_dump()}
    reply = run(ctx.cache.get, "from-child", ResourceSummary)
    assert reply == ResourceSummary(total=4, active=0, last_id="")
