"""The ctx.store contract, through the async face, on the caller's connection and
(PostgreSQL) on the worker threads."""

import re

import pytest
from asgiref.sync import async_to_sync

from apps.store.errors import DocumentExists, DocumentNotFound, StoreConflict
from apps.store.models import AuditEntry, Document

from .conftest import stored_state


def audit_ops():
    return list(AuditEntry.objects.order_by("id").values_list("op", "actor", "doc_id"))


def test_create_assigns_an_unguessable_id_and_returns_the_document(store_of):
    doc = store_of("notes", "alice").create("notes", {"title": "hi", "n": 1})
    assert re.fullmatch(r"[0-9a-f]{32}", doc.id)
    assert (doc.collection, doc.data, doc.user_id) == (
        "notes",
        {"title": "hi", "n": 1},
        "alice",
    )
    assert (doc.extension_id, doc.tenant_id) == ("notes", "default")
    assert doc.created_at == doc.updated_at and doc.created_at.endswith("Z")
    assert re.fullmatch(r"[0-9a-f]{32}", doc.etag)
    row = Document.objects.get()
    assert (row.user_id, row.doc_id, row.data, row.etag) == (
        "alice",
        doc.id,
        doc.data,
        doc.etag,
    )
    assert audit_ops() == [("create", "user", doc.id)]
    assert AuditEntry.objects.get().etag == doc.etag


def test_create_honours_doc_id_in_data_and_keeps_it(store_of):
    store = store_of("notes", "alice")
    doc = store.create("connections", {"doc_id": "primary", "account_id": "a1"})
    assert doc.id == "primary"
    assert store.get("connections", "primary").data == {
        "doc_id": "primary",
        "account_id": "a1",
    }


def test_create_with_a_taken_id_raises_and_writes_nothing(store_of):
    store = store_of("notes", "alice")
    store.create("c", {"doc_id": "x", "v": 1})
    before = stored_state()
    with pytest.raises(DocumentExists, match="'x' already exists in collection 'c'"):
        store.create("c", {"doc_id": "x", "v": 2})
    assert stored_state() == before


def test_get_by_collection_and_id_or_by_path(store_of):
    store = store_of("notes", "alice")
    doc = store.create("notes", {"a": 1})
    assert store.get("notes", doc.id) == doc
    assert store.get(f"notes/{doc.id}") == doc
    assert store.get("notes", "missing") is None
    store.create("config", {"doc_id": "config", "x": 1})
    assert store.get("config").data == {"doc_id": "config", "x": 1}


def test_update_merges_top_level_keys_and_changes_the_etag(store_of, ticking_clock):
    store = store_of("notes", "alice")
    doc = store.create("notes", {"a": 1, "b": {"x": 1}})
    updated = store.update("notes", doc.id, {"b": {"y": 2}, "c": None})
    assert updated.data == {"a": 1, "b": {"y": 2}, "c": None}
    assert updated.etag != doc.etag
    assert updated.created_at == doc.created_at < updated.updated_at
    assert store.get("notes", doc.id) == updated
    assert [op for op, _, _ in audit_ops()] == ["create", "update"]
    assert AuditEntry.objects.first().etag == updated.etag


def test_update_of_a_missing_document_raises_not_found_and_writes_nothing(store_of):
    store = store_of("notes", "alice")
    before = stored_state()
    with pytest.raises(DocumentNotFound, match="no document 'ghost'"):
        store.update("notes", "ghost", {"a": 1})
    with pytest.raises(DocumentNotFound):
        store.update("notes", "ghost", {"a": 1}, if_match="some-etag")
    assert stored_state() == before


def test_update_with_if_match_is_compare_and_set(store_of):
    store = store_of("notes", "alice")
    doc = store.create("counters", {"doc_id": "hits", "n": 0})
    first = store.update("counters", "hits", {"n": 1}, if_match=doc.etag)
    before = stored_state()
    with pytest.raises(StoreConflict) as conflict:
        store.update("counters", "hits", {"n": 99}, if_match=doc.etag)
    assert conflict.value.current_etag == first.etag
    assert conflict.value.expected_etag == doc.etag
    assert stored_state() == before
    assert (
        store.update("counters", "hits", {"n": 2}, if_match=first.etag).data["n"] == 2
    )


def test_delete_returns_whether_it_deleted_and_honours_if_match(store_of):
    store = store_of("notes", "alice")
    doc = store.create("notes", {"a": 1})
    stale = doc.etag
    fresh = store.update("notes", doc.id, {"a": 2})
    with pytest.raises(StoreConflict):
        store.delete("notes", doc.id, if_match=stale)
    assert store.get("notes", doc.id) is not None
    assert store.delete("notes", doc.id, if_match=fresh.etag) is True
    assert store.delete("notes", doc.id) is False
    assert store.delete("notes", doc.id, if_match=fresh.etag) is False
    assert [op for op, _, _ in audit_ops()] == ["create", "update", "delete"]
    assert AuditEntry.objects.first().etag == ""


def test_set_creates_under_the_keys_id_then_merges(store_of):
    store = store_of("notes", "alice")
    created = store.set("prefs/theme", {"mode": "dark"})
    assert (created.id, created.data) == ("theme", {"mode": "dark"})
    merged = store.set("prefs/theme", {"size": 2})
    assert merged.data == {"mode": "dark", "size": 2}
    assert merged.etag != created.etag and merged.created_at == created.created_at
    again = store.set("prefs/theme", {"size": 2})
    assert again.etag != merged.etag, "every write changes the etag"
    assert store.set("prefs/flag", True).data == {"value": True}
    assert Document.objects.filter(collection="prefs").count() == 2
    assert [op for op, _, _ in audit_ops()] == ["set"] * 4


def test_count_and_list(store_of):
    store = store_of("notes", "alice")
    for n in range(3):
        store.create("notes", {"doc_id": f"n{n}", "even": n % 2 == 0})
    store.create("notes", {"doc_id": "other"})
    assert store.count("notes") == 4
    assert store.count("notes", where={"even": True}) == 2
    assert store.count("empty") == 0
    assert [d.id for d in store.list("notes")] == ["n0", "n1", "n2", "other"]
    assert [d.id for d in store.list("notes/n")] == ["n0", "n1", "n2"]


def test_query_pages_with_an_opaque_cursor(store_of, ticking_clock):
    store = store_of("notes", "alice")
    ids = [store.create("notes", {"i": i}).id for i in range(5)]
    page = store.query("notes", limit=2)
    assert [d.id for d in page.data] == ids[:2] and page.has_more and page.cursor
    page = store.query("notes", limit=2, cursor=page.cursor)
    assert [d.id for d in page.data] == ids[2:4] and page.has_more
    page = store.query("notes", limit=2, cursor=page.cursor)
    assert [d.id for d in page.data] == ids[4:] and not page.has_more
    assert page.cursor is None
    assert len(store.query("notes")) == 5


def test_a_cursor_stays_correct_under_concurrent_inserts(store_of, ticking_clock):
    store = store_of("notes", "alice")
    for i in range(4):
        store.create("notes", {"doc_id": f"d{i}", "rank": i * 10})
    page = store.query("notes", order_by="rank", limit=2)
    assert [d.id for d in page.data] == ["d0", "d1"]
    store.create("notes", {"doc_id": "before", "rank": 5})  # sorts into page 1
    store.create("notes", {"doc_id": "after", "rank": 25})  # sorts after the cursor
    rest = store.query("notes", order_by="rank", limit=10, cursor=page.cursor)
    assert [d.id for d in rest.data] == ["d2", "after", "d3"]


def test_order_by_timestamps_and_id_breaks_ties_by_id(store_of, ticking_clock):
    store = store_of("notes", "alice")
    for doc_id in ("b", "a", "C"):
        store.create("notes", {"doc_id": doc_id})
    store.update("notes", "b", {"touched": True})
    assert [d.id for d in store.query("notes", order_by="created_at").data] == [
        "b",
        "a",
        "C",
    ]
    assert [d.id for d in store.query("notes", order_by="-updated_at").data] == [
        "b",
        "C",
        "a",
    ]
    assert [d.id for d in store.query("notes", order_by="id").data] == ["C", "a", "b"]
    assert [d.id for d in store.query("notes", order_by="-id").data] == ["b", "a", "C"]


def test_the_system_context_has_its_own_partition(store_of, system_store):
    system = system_store("notes")
    system.set("state/cursor", {"at": 1})
    assert store_of("notes", "alice").get("state", "cursor") is None
    assert system.get("state/cursor").user_id == "__system__"
    assert system.list_users("state") == []
    assert AuditEntry.objects.get().actor == "system"


def test_list_users_streams_every_user_and_serves_both_loops(store_of, system_store):
    for uid in ("u3", "u1", "u5", "u2", "u4"):
        store_of("notes", uid).create("contacts", {"name": uid})
    store_of("notes", "u9").create("other", {})
    store_of("crm", "u8").create("contacts", {})
    system = system_store("notes")
    system.set("contacts/mine", {})
    users = system.list_users("contacts", page_size=2)
    assert users == ["u1", "u2", "u3", "u4", "u5"]
    # the seed's loop: user_ctx.store.query(...)
    assert async_to_sync(users[0].store.count)("contacts") == 1
    scoped = system.ctx.as_user(users[1])  # imperal-sdk's loop: ctx.as_user(uid)
    assert scoped.user.imperal_id == "u2"
    assert system.ctx._fanned_out_users == {"u1", "u2"}


def test_writes_through_as_user_are_audited_as_system_as_user(system_store):
    system = system_store("notes")
    scoped = system.ctx.as_user("u1")
    async_to_sync(scoped.store.create)("notes", {"x": 1})
    assert audit_ops()[0][:2] == ("create", "system-as-user")
    assert Document.objects.get().user_id == "u1"


def test_query_all_returns_every_users_documents_with_user_id(store_of, system_store):
    for uid in ("bob", "alice"):
        for n in range(2):
            store_of("notes", uid).create("contacts", {"doc_id": f"c{n}"})
    system = system_store("notes")
    system.create("contacts", {"doc_id": "sys"})
    docs = system.query_all("contacts")
    assert [(d.user_id, d.id) for d in docs] == [
        ("alice", "c0"),
        ("alice", "c1"),
        ("bob", "c0"),
        ("bob", "c1"),
    ]
    assert len(system.query_all("contacts", limit=3)) == 3


# --- the page budget (IMPERAL_STORE_PAGE_MAX_BYTES) ------------------------------
KB = "k" * 1000  # about 1 KB of JSON per document, whichever database prints it


def paged(store, collection, **kwargs):
    """Return every page of a query, following the cursors, as lists of ids."""
    pages, cursor = [], None
    while True:
        page = store.query(collection, cursor=cursor, **kwargs)
        pages.append([d.id for d in page.data])
        assert page.has_more == (page.cursor is not None)
        if not page.has_more:
            return pages
        cursor = page.cursor


def test_a_page_stops_at_its_byte_budget_and_its_cursor_goes_on_after_it(
    store_of, settings, ticking_clock
):
    store = store_of("notes", "alice")
    for i in range(7):
        store.create("notes", {"doc_id": f"d{i}", "pad": KB})
    before = stored_state()
    settings.IMPERAL_STORE_PAGE_MAX_BYTES = 2500  # two documents, not three
    first = store.query("notes", limit=100)
    assert [d.id for d in first.data] == ["d0", "d1"]
    assert first.has_more and first.cursor
    assert [d.data for d in first.data] == [
        {"doc_id": f"d{i}", "pad": KB} for i in (0, 1)
    ]
    pages = paged(store, "notes", limit=100)
    assert pages == [["d0", "d1"], ["d2", "d3"], ["d4", "d5"], ["d6"]]
    assert paged(store, "notes", limit=100, order_by="-id") == [
        ["d6", "d5"],
        ["d4", "d3"],
        ["d2", "d1"],
        ["d0"],
    ]
    assert paged(store, "notes", limit=1) == [[f"d{i}"] for i in range(7)]
    settings.IMPERAL_STORE_PAGE_MAX_BYTES = 8 * 1024 * 1024
    assert paged(store, "notes", limit=100) == [[f"d{i}" for i in range(7)]]
    assert stored_state() == before


def test_a_document_larger_than_the_budget_comes_alone_on_its_page(
    store_of, settings, ticking_clock
):
    store = store_of("notes", "alice")
    store.create("notes", {"doc_id": "small1", "n": 1})
    store.create("notes", {"doc_id": "huge", "pad": KB * 5})
    store.create("notes", {"doc_id": "small2", "n": 2})
    store.create("notes", {"doc_id": "small3", "n": 3})
    settings.IMPERAL_STORE_PAGE_MAX_BYTES = 1000
    pages = paged(store, "notes", limit=100)
    assert pages == [["small1"], ["huge"], ["small2", "small3"]]
    huge = store.query("notes", where={"doc_id": "huge"})
    assert [d.id for d in huge.data] == ["huge"] and not huge.has_more
    assert huge.data[0].data["pad"] == KB * 5


def test_a_budgeted_page_keeps_where_and_order_by_across_its_cursors(
    store_of, settings, ticking_clock
):
    store = store_of("notes", "alice")
    for i in range(8):
        store.create(
            "notes", {"doc_id": f"d{i}", "even": i % 2 == 0, "rank": -i, "pad": KB}
        )
    settings.IMPERAL_STORE_PAGE_MAX_BYTES = 2500
    where = {"even": True}
    assert paged(store, "notes", where=where, order_by="rank", limit=100) == [
        ["d6", "d4"],
        ["d2", "d0"],
    ]
    assert store.count("notes", where=where) == 4


def test_list_reads_every_document_through_budgeted_pages(
    store_of, settings, ticking_clock
):
    store = store_of("notes", "alice")
    for i in range(5):
        store.create("notes", {"doc_id": f"n{i}", "pad": KB})
    store.create("notes", {"doc_id": "other", "pad": KB})
    settings.IMPERAL_STORE_PAGE_MAX_BYTES = 1500  # one document per page
    assert [d.id for d in store.list("notes")] == [
        "n0",
        "n1",
        "n2",
        "n3",
        "n4",
        "other",
    ]
    assert [d.id for d in store.list("notes/n")] == ["n0", "n1", "n2", "n3", "n4"]
    assert store.query("notes", limit=1000).has_more


def test_query_all_stays_within_the_page_budget(store_of, system_store, settings):
    for uid in ("bob", "alice", "carol"):
        for n in range(2):
            store_of("notes", uid).create("contacts", {"doc_id": f"c{n}", "pad": KB})
    system = system_store("notes")
    settings.IMPERAL_STORE_PAGE_MAX_BYTES = 2500
    assert [(d.user_id, d.id) for d in system.query_all("contacts")] == [
        ("alice", "c0"),
        ("alice", "c1"),
    ]
    settings.IMPERAL_STORE_PAGE_MAX_BYTES = 10  # the first document still comes
    assert [(d.user_id, d.id) for d in system.query_all("contacts")] == [
        ("alice", "c0")
    ]
    settings.IMPERAL_STORE_PAGE_MAX_BYTES = 8 * 1024 * 1024
    assert len(system.query_all("contacts", limit=5)) == 5
    assert len(system.query_all("contacts")) == 6


def test_list_of_mixed_sizes_returns_every_document_once_in_order(
    store_of, settings, ticking_clock
):
    store = store_of("notes", "alice")
    sizes = [5, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 1, 0, 0, 0, 0, 0]
    for i, size in enumerate(sizes):
        store.create("notes", {"doc_id": f"d{i:02d}", "pad": KB * size})
    settings.IMPERAL_STORE_PAGE_MAX_BYTES = 2500
    listed = store.list("notes")
    assert [d.id for d in listed] == [f"d{i:02d}" for i in range(len(sizes))]
    assert [len(d.data["pad"]) for d in listed] == [1000 * size for size in sizes]
