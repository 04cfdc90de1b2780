"""Seed examples that use ctx.store together with ctx.cache: the migration patterns,
the resource summary and the dashboard panel."""

import pytest
from asgiref.sync import async_to_sync

from apps.accounts.identity import user_context
from apps.accounts.partition import Partition
from apps.extensions.context import build_context
from apps.extensions.invocation import prepare_panel, prepare_tool
from apps.store.connections import DjangoConnection
from apps.store.core import DocumentStore
from apps.store.models import AuditEntry, Document
from tests.fixtures.samples import sample_module

pytestmark = pytest.mark.django_db
CACHE_KEYS = ("summary", "dashboard", "connection_state", "inbox_snapshot")


@pytest.fixture
def loaded_my_app(use_extensions):
    return use_extensions("extensions/my_app").get("my-app")


@pytest.fixture
def my_app(loaded_my_app):
    return loaded_my_app.ext


@pytest.fixture
def my_app_models(loaded_my_app):
    """extensions/my_app/app.py, where the extension declares its cache models."""
    return sample_module(loaded_my_app, "app")


@pytest.fixture
def ctx_of(my_app):
    """Return the my-app context of a user, with the cache keys these tests use cleared."""

    def make(user):
        ctx = build_context(my_app, user_context(user))
        for key in CACHE_KEYS:
            async_to_sync(ctx.cache.delete)(key)
        return ctx

    return make


def call(tool, user, **params):
    return async_to_sync(prepare_tool("my-app", tool, user, params).run)()


def seed(user_id, collection, *bodies):
    store, part = (
        DocumentStore(DjangoConnection()),
        Partition("default", "my-app", user_id),
    )
    return [store.create(part, "user", collection, body) for body in bodies]


def test_promote_moves_the_cached_connection_into_the_store(
    ctx_of, my_app_models, alice
):
    ctx = ctx_of(alice)
    state = my_app_models.ConnectionState(account_id="acc-1", connected=True)
    async_to_sync(ctx.cache.set)("connection_state", state, ttl_seconds=60)
    assert call("connection_state", "alice")["connection"] == state.model_dump()
    doc = Document.objects.get(user_id="alice", collection="connections")
    assert (doc.doc_id, doc.data) == (
        "primary",
        {"doc_id": "primary", **state.model_dump()},
    )
    async_to_sync(ctx.cache.delete)("connection_state")
    assert call("connection_state", "alice")["connection"] == state.model_dump()
    assert AuditEntry.objects.filter(collection="connections").count() == 1


def test_promote_without_cache_or_store_returns_the_default(ctx_of, bob):
    ctx_of(bob)
    assert call("connection_state", "bob")["connection"] == {
        "account_id": "",
        "connected": False,
    }
    assert not Document.objects.exists()


def test_demote_deletes_the_legacy_document_and_caches_the_snapshot(
    ctx_of, my_app_models, alice
):
    ctx = ctx_of(alice)
    seed(
        "alice",
        "inbox_snapshots",
        {"doc_id": "latest", "message_ids": ["m1"], "unread": 1},
    )
    result = call("inbox_snapshot", "alice")
    assert result["snapshot"] == {"message_ids": [], "unread": 0}
    assert not Document.objects.filter(collection="inbox_snapshots").exists()
    assert AuditEntry.objects.filter(op="delete", doc_id="latest").count() == 1
    assert (
        async_to_sync(ctx.cache.get)("inbox_snapshot", my_app_models.InboxSnapshot)
        is not None
    )
    call("inbox_snapshot", "alice")  # served from the cache; the store is not touched
    assert AuditEntry.objects.count() == 2


def test_resource_summary_counts_the_store_then_serves_the_cache(
    ctx_of, alice, ticking_clock
):
    ctx_of(alice)
    docs = seed(
        "alice",
        "resources",
        {"is_active": True},
        {"is_active": False},
        {"is_active": True},
    )
    summary = call("get_resource_summary", "alice")["data"]
    assert summary == {"total": 3, "active": 2, "last_id": docs[-1].id}
    seed("alice", "resources", {"is_active": True})
    assert (
        call("get_resource_summary", "alice")["data"]["total"] == 3
    )  # cached for 90 s


def test_dashboard_panel_counts_active_campaigns(ctx_of, alice):
    ctx_of(alice)
    seed(
        "alice",
        "campaigns",
        {"status": "active"},
        {"status": "paused"},
        {"status": "active"},
    )
    panel = async_to_sync(prepare_panel("my-app", "dashboard", "alice").run)()
    assert panel["dashboard"]["active_campaigns"] == 2
