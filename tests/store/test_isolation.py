"""Isolation: no operation of one partition reads, counts, updates or deletes another's
documents — owner, collaborator and outsider, across two extensions and two tenants."""

import pytest
from asgiref.sync import async_to_sync

from apps.accounts.models import SecurityEvent
from apps.store.errors import DocumentNotFound, StoreConflict
from apps.store.models import Document

OWNER = ("notes", "alice", "default")
OTHERS = [
    ("notes", "bob", "default"),  # collaborator, same extension
    ("notes", "charlie", "default"),  # outsider
    ("crm", "alice", "default"),  # the owner in another extension
    ("crm", "bob", "default"),
    ("notes", "alice", "acme"),  # the owner's id in another tenant
]


@pytest.fixture
def owner_docs(store_of):
    owner = store_of(OWNER[0], OWNER[1], tenant_id=OWNER[2])
    known = owner.create("shared", {"doc_id": "known", "secret": "alice", "n": 1})
    server = owner.create("shared", {"secret": "alice-2", "n": 2})
    return owner, [known, server]


def owner_rows():
    return list(
        Document.objects.filter(tenant_id="default", app_id="notes", user_id="alice")
        .order_by("doc_id")
        .values_list("doc_id", "data", "etag")
    )


@pytest.mark.parametrize("other", OTHERS, ids=lambda o: "/".join(o))
def test_another_partition_cannot_read_count_change_or_delete(
    store_of, owner_docs, other
):
    owner, docs = owner_docs
    before = owner_rows()
    them = store_of(other[0], other[1], tenant_id=other[2])
    for doc in docs:
        assert them.get("shared", doc.id) is None
        assert them.get(f"shared/{doc.id}") is None
        with pytest.raises(DocumentNotFound):
            them.update("shared", doc.id, {"secret": "stolen"})
        with pytest.raises(DocumentNotFound):
            them.update("shared", doc.id, {"secret": "stolen"}, if_match=doc.etag)
        assert them.delete("shared", doc.id) is False
        assert them.delete("shared", doc.id, if_match=doc.etag) is False
    assert them.count("shared") == 0
    assert them.count("shared", where={"secret": "alice"}) == 0
    assert them.query("shared", where={"n": {"$gte": 0}}).data == []
    assert them.list("shared") == []
    assert owner_rows() == before


@pytest.mark.parametrize("other", OTHERS, ids=lambda o: "/".join(o))
def test_a_colliding_doc_id_is_a_separate_document(store_of, owner_docs, other):
    owner, (known, _) = owner_docs
    them = store_of(other[0], other[1], tenant_id=other[2])
    theirs = them.create("shared", {"doc_id": "known", "secret": "theirs"})
    them.set("shared/known", {"extra": 1})
    them.update("shared", "known", {"more": 2}, if_match=them.get("shared/known").etag)
    with pytest.raises(StoreConflict):
        them.update("shared", "known", {"x": 1}, if_match=known.etag)
    assert them.get("shared", "known").data == {
        "doc_id": "known",
        "secret": "theirs",
        "extra": 1,
        "more": 2,
    }
    assert them.query("shared").data[0].id == theirs.id == "known"
    assert owner.get("shared", "known") == known
    assert them.delete("shared", "known") is True
    assert owner.get("shared", "known") == known
    assert owner.count("shared") == 2


@pytest.mark.parametrize("user", ["alice", "bob", "charlie"])
def test_no_user_can_fan_out_across_partitions(store_of, owner_docs, user):
    store = store_of("notes", user)
    with pytest.raises(RuntimeError, match="requires system context"):
        store.list_users("shared")
    with pytest.raises(RuntimeError, match="requires system context"):
        store.query_all("shared")
    kinds = sorted(SecurityEvent.objects.values_list("kind", "user_id"))
    assert kinds == [
        ("list_users_from_user_context", user),
        ("query_all_from_user_context", user),
    ]


def test_the_face_has_no_way_to_name_another_partition(store_of):
    face = store_of("notes", "alice").face
    public = {name for name in dir(face) if not name.startswith("_")}
    assert public == {
        "create",
        "get",
        "query",
        "update",
        "delete",
        "count",
        "set",
        "list",
        "list_users",
        "query_all",
        "for_user",  # imperal-sdk's re-scoping: ctx.as_user, system context only
    }
    with pytest.raises(RuntimeError, match=r"ctx\.as_user\(\) requires system context"):
        face._ctx.as_user("bob")
    with pytest.raises(RuntimeError, match=r"for_user\(\) requires system context"):
        face.for_user("bob")
    kinds = sorted(SecurityEvent.objects.values_list("kind", "user_id"))
    assert kinds == [
        ("as_user_from_user_context", "alice"),
        ("store_for_user_from_user_context", "alice"),
    ]


def test_a_scoped_context_writes_only_into_its_users_partition(system_store):
    system = system_store("notes")
    for uid in ("alice", "bob"):
        async_to_sync(system.ctx.as_user(uid).store.create)("shared", {"for": uid})
    rows = sorted(Document.objects.values_list("user_id", "data"))
    assert rows == [("alice", {"for": "alice"}), ("bob", {"for": "bob"})]
