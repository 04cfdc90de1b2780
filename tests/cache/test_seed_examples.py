"""The seed's ctx.cache examples, run through the kernel on every backend.

The my-app sample extension (extensions/my_app) carries them: its
get_resource_summary tool and dashboard panel, called as a user would, and
its promote/demote migration patterns, imported from the extension itself.
"""

import pytest
from asgiref.sync import async_to_sync

from apps.cache import entries
from apps.extensions.errors import HandlerFailed
from apps.extensions.invocation import prepare_panel, prepare_tool
from apps.extensions.sync import sync_extensions
from tests.fixtures.extensions import cache_probe
from tests.fixtures.samples import sample_module

from .conftest import context, partition

pytestmark = pytest.mark.django_db
SUMMARY = cache_probe.ResourceSummary(total=3, active=2, last_id="doc_1")


def run(func, *args, **kwargs):
    return async_to_sync(func)(*args, **kwargs)


def tool(app, name, user, params=None):
    return run(prepare_tool(app, name, user, params).run)


def panel(app, name, user):
    return run(prepare_panel(app, name, user).run)


def my_app_entries(core, user_id):
    return core.list_entries(partition(user_id, app_id="my-app"))


@pytest.fixture
def loaded_my_app(use_extensions, core):
    registry = use_extensions("extensions/my_app")
    sync_extensions(registry)
    return registry.get("my-app")


@pytest.fixture
def my_app(loaded_my_app):
    return loaded_my_app.ext


@pytest.fixture
def migration_patterns(loaded_my_app):
    return sample_module(loaded_my_app, "migration_patterns")


def test_get_resource_summary_caches_for_its_user_only(
    my_app, core, alice, bob, charlie
):
    store = context(my_app, "alice").store
    for active in (True, False):
        run(store.create, "resources", {"is_active": active})
    first = tool("my-app", "get_resource_summary", "alice")
    assert (first["data"]["total"], first["data"]["active"]) == (2, 1)
    run(store.create, "resources", {"is_active": True})
    assert tool("my-app", "get_resource_summary", "alice") == first  # the cache
    bobs = tool("my-app", "get_resource_summary", "bob")
    assert bobs["data"] == {"total": 0, "active": 0, "last_id": ""}
    assert my_app_entries(core, "charlie") == []
    (entry,) = my_app_entries(core, "alice")
    assert (entry.model, entry.key_hash) == (
        "resource_summary",
        entries.hash_key("summary"),
    )
    assert 85 <= entry.ttl_seconds <= 90
    run(context(my_app, "alice").cache.delete, "summary")
    assert tool("my-app", "get_resource_summary", "alice")["data"]["total"] == 3


def test_panel_dashboard_fetches_once_per_user(my_app, core, alice, bob, charlie):
    store = context(my_app, "alice").store
    run(store.create, "campaigns", {"status": "active"})
    first = panel("my-app", "dashboard", "alice")
    assert first["dashboard"]["active_campaigns"] == 1
    run(store.create, "campaigns", {"status": "active"})
    assert panel("my-app", "dashboard", "alice") == first  # not fetched again
    assert panel("my-app", "dashboard", "bob")["dashboard"]["active_campaigns"] == 0
    assert my_app_entries(core, "charlie") == []
    (entry,) = my_app_entries(core, "alice")
    assert entry.model == "dashboard_view" and 115 <= entry.ttl_seconds <= 120


def test_promoting_cache_to_store(my_app, migration_patterns, core, alice):
    get_connection = migration_patterns.get_connection
    state_class = my_app._cache_models["connection_state"]
    ctx = context(my_app, "alice")
    empty = run(get_connection, ctx)
    assert (empty.account_id, empty.connected) == ("", False)
    cached = state_class(account_id="acc-1", connected=True)
    run(ctx.cache.set, "connection_state", cached, ttl_seconds=60)
    assert run(get_connection, ctx) == cached
    promoted = run(ctx.store.get, "connections", "primary")
    assert promoted.data == {"doc_id": "primary", **cached.model_dump()}
    run(ctx.cache.delete, "connection_state")
    assert run(get_connection, ctx) == cached
    assert my_app_entries(core, "alice") == []


def test_demoting_store_to_cache(my_app, migration_patterns, core, alice):
    get_inbox_snapshot = migration_patterns.get_inbox_snapshot
    ctx = context(my_app, "alice")
    run(ctx.store.create, "inbox_snapshots", {"doc_id": "latest", "unread": 3})
    snapshot = run(get_inbox_snapshot, ctx)
    assert run(ctx.store.get, "inbox_snapshots", "latest") is None
    (entry,) = my_app_entries(core, "alice")
    assert entry.model == "inbox_snapshot" and 85 <= entry.ttl_seconds <= 90
    assert run(get_inbox_snapshot, ctx) == snapshot


# --- cache-probe: platform behaviour the samples do not show ------------------


@pytest.fixture
def probe(use_extensions, core):
    sync_extensions(use_extensions("tests.fixtures.extensions.cache_probe"))
    return cache_probe.ext


def test_forget_deletes_the_key_under_every_model(probe, core, alice):
    ctx = context(probe, "alice")
    run(ctx.cache.set, "summary", SUMMARY)
    run(ctx.cache.set, "summary", cache_probe.Note(text="same key, other model"))
    run(ctx.cache.set, "other", cache_probe.Note(text="another key"))
    assert tool("cache-probe", "forget", "alice", {"key": "summary"}) == {
        "deleted": "summary"
    }
    (left,) = core.list_entries(partition("alice"))
    assert (left.model, left.key_hash) == ("note", entries.hash_key("other"))


def test_a_bad_key_from_a_tool_fails_the_call(probe, core, calls, alice):
    with pytest.raises(HandlerFailed, match="I-CACHE-KEY-SAFETY"):
        tool("cache-probe", "forget", "alice", {"key": "a/b/c"})
    assert calls == []


def test_the_seeds_common_mistakes_examples(core):
    ctx = context(cache_probe.ext, "alice")
    snapshot = cache_probe.InboxSnapshot(message_ids=["m1"], unread=1)
    run(cache_probe._right_cache_for_ephemeral, ctx, snapshot)
    run(cache_probe._right_unregistered, ctx)
    # The seed's "WRONG" example stores credentials; as a dict they are refused.
    with pytest.raises(TypeError, match="I-CACHE-PYDANTIC-ONLY"):
        run(cache_probe._wrong_cache_for_credentials, ctx, {"token": "t"})
    listed = sorted(e.model for e in core.list_entries(partition("alice")))
    assert listed == ["inbox_snapshot", "inbox_view"]
