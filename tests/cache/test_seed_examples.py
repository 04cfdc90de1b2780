"""The seed's ctx.cache examples, run verbatim through the kernel on every backend.

``cache-probe`` (tests/fixtures) carries the seed's cache examples without
ctx.store. The my-app examples that also call ctx.store (get_resource_summary,
the dashboard panel, and the promote/demote migration patterns) run once
``apps.store`` is installed; until then they are skipped, not faked.
"""

import sys
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync

from apps.cache import entries
from apps.extensions.errors import HandlerFailed
from apps.extensions.invocation import prepare_panel, prepare_tool
from apps.extensions.sync import sync_extensions
from tests.fixtures.extensions import cache_probe

from .conftest import context, partition

pytestmark = pytest.mark.django_db


@pytest.fixture
def probe(use_extensions, core):
    sync_extensions(use_extensions("tests.fixtures.extensions.cache_probe"))
    cache_probe.FETCHES.clear()
    return cache_probe.ext


def tool(app, name, user, params=None):
    return async_to_sync(prepare_tool(app, name, user, params).run)()


def panel(app, name, user):
    return async_to_sync(prepare_panel(app, name, user).run)()


def test_the_summary_tool_caches_for_its_user_only(probe, core, alice, bob, charlie):
    first = tool("cache-probe", "summary", "alice", {"total": 5, "active": 4})
    again = tool("cache-probe", "summary", "alice", {"total": 9, "active": 9})
    assert (first["cached"], again["cached"]) == (False, True)
    assert again["data"] == {"total": 5, "active": 4, "last_id": ""}
    assert tool("cache-probe", "summary", "bob", {"total": 1})["cached"] is False
    assert core.list_entries(partition("charlie")) == []
    (entry,) = core.list_entries(partition("alice"))
    assert (entry.model, entry.key_hash) == (
        "resource_summary",
        entries.hash_key("summary"),
    )
    assert 85 <= entry.ttl_seconds <= 90


def test_the_dashboard_panel_fetches_once_per_user(probe, core, alice, bob, charlie):
    first = panel("cache-probe", "dashboard", "alice")
    second = panel("cache-probe", "dashboard", "alice")
    assert first == second
    assert cache_probe.FETCHES == ["alice"]
    panel("cache-probe", "dashboard", "bob")
    assert cache_probe.FETCHES == ["alice", "bob"]
    assert core.list_entries(partition("charlie")) == []
    (entry,) = core.list_entries(partition("alice"))
    assert entry.model == "dashboard_view" and 115 <= entry.ttl_seconds <= 120


def test_forget_deletes_under_every_model(probe, core, alice):
    tool("cache-probe", "summary", "alice")
    panel("cache-probe", "dashboard", "alice")
    tool("cache-probe", "forget", "alice", {"key": "summary"})
    assert [e.model for e in core.list_entries(partition("alice"))] == [
        "dashboard_view"
    ]


def test_a_bad_key_from_a_tool_fails_the_call(probe, core, alice):
    with pytest.raises(HandlerFailed, match="I-CACHE-KEY-SAFETY"):
        tool("cache-probe", "forget", "alice", {"key": "a/b/c"})


def test_the_seeds_common_mistakes_examples(core):
    ctx = context(cache_probe.ext, "alice")
    snapshot = cache_probe.InboxSnapshot(message_ids=["m1"], unread=1)
    async_to_sync(cache_probe._right_cache_for_ephemeral)(ctx, snapshot)
    async_to_sync(cache_probe._right_unregistered)(ctx)
    # The seed's "WRONG" example stores credentials; as a dict they are refused.
    with pytest.raises(TypeError, match="I-CACHE-PYDANTIC-ONLY"):
        async_to_sync(cache_probe._wrong_cache_for_credentials)(ctx, {"token": "t"})
    listed = sorted(e.model for e in core.list_entries(partition("alice")))
    assert listed == ["inbox_snapshot", "inbox_view"]


# --- my-app: the seed's examples that also use ctx.store ---------------------


@pytest.fixture
def my_app(use_extensions, core):
    pytest.importorskip("apps.store.face", reason="ctx.store arrives with branch store")
    registry = use_extensions("extensions/my_app")
    sync_extensions(registry)
    return registry.get("my-app").ext


def my_app_function(name):
    """Return a function the seed's migration patterns define in extensions/my_app."""
    directory = Path(__file__).resolve().parents[2] / "extensions" / "my_app"
    for module in list(sys.modules.values()):
        file = getattr(module, "__file__", None)
        if file and Path(file).resolve().parent == directory and hasattr(module, name):
            return getattr(module, name)
    pytest.skip(f"{name} is not in extensions/my_app yet (branch store adds it)")


def test_get_resource_summary_serves_its_cached_summary(my_app, core, alice, bob):
    first = tool("my-app", "get_resource_summary", "alice")
    ctx = context(my_app, "alice")
    async_to_sync(ctx.store.create)("resources", {"is_active": True})
    assert tool("my-app", "get_resource_summary", "alice") == first
    async_to_sync(ctx.cache.delete)("summary")
    fresh = tool("my-app", "get_resource_summary", "alice")
    assert fresh["data"]["total"] == first["data"]["total"] + 1
    assert tool("my-app", "get_resource_summary", "bob")["data"]["total"] == 0
    (entry,) = core.list_entries(partition("alice", app_id="my-app"))
    assert entry.model == "resource_summary" and entry.ttl_seconds <= 90


def test_panel_dashboard_reads_through_the_cache(my_app, core, alice):
    ctx = context(my_app, "alice")
    async_to_sync(ctx.store.create)("campaigns", {"status": "active"})
    first = panel("my-app", "dashboard", "alice")
    async_to_sync(ctx.store.create)("campaigns", {"status": "active"})
    assert panel("my-app", "dashboard", "alice") == first
    (entry,) = core.list_entries(partition("alice", app_id="my-app"))
    assert entry.model == "dashboard_view" and entry.ttl_seconds <= 120


def test_promoting_cache_to_store(my_app, core, alice):
    get_connection = my_app_function("get_connection")
    state_class = my_app._cache_models["connection_state"]
    ctx = context(my_app, "alice")
    empty = async_to_sync(get_connection)(ctx)
    assert (empty.account_id, empty.connected) == ("", False)
    cached = state_class(account_id="acc-1", connected=True)
    async_to_sync(ctx.cache.set)("connection_state", cached, ttl_seconds=60)
    assert async_to_sync(get_connection)(ctx) == cached
    assert async_to_sync(ctx.store.get)("connections", "primary") is not None
    async_to_sync(ctx.cache.delete)("connection_state")
    assert async_to_sync(get_connection)(ctx) == cached


def test_demoting_store_to_cache(my_app, core, alice):
    get_inbox_snapshot = my_app_function("get_inbox_snapshot")
    ctx = context(my_app, "alice")
    async_to_sync(ctx.store.create)(
        "inbox_snapshots", {"doc_id": "latest", "unread": 3}
    )
    snapshot = async_to_sync(get_inbox_snapshot)(ctx)
    assert async_to_sync(ctx.store.get)("inbox_snapshots", "latest") is None
    (entry,) = core.list_entries(partition("alice", app_id="my-app"))
    assert entry.model == "inbox_snapshot" and entry.ttl_seconds <= 90
    assert async_to_sync(get_inbox_snapshot)(ctx) == snapshot
