"""The trigger-kept partition statistics: always equal to a recount, on every write
path, and the browser's sorted, searchable, keyset-paginated users."""

import pytest
from django.db import connection

from apps.accounts.partition import Partition
from apps.store import stats
from apps.store.connections import DjangoConnection
from apps.store.core import DocumentStore
from apps.store.errors import DocumentExists
from apps.store.models import CollectionStats, PartitionStats
from apps.store.partitions import Partitions

pytestmark = pytest.mark.django_db

OP = "operator"


def store():
    return DocumentStore(DjangoConnection())


def part(user, app="notes"):
    return Partition("t1", app, user)


def stored():
    """The statistics tables as (partition rows, collection rows)."""
    partitions = {
        (r.app_id, r.user_id): (r.documents, r.collections, r.last_write, r.bytes)
        for r in PartitionStats.objects.all()
    }
    collections = {
        (r.app_id, r.user_id, r.collection): r.documents
        for r in CollectionStats.objects.all()
    }
    return partitions, collections


def recounted():
    """What the statistics must be: recount the documents table, as rebuild does."""
    before = stored()
    with connection.cursor() as cursor:
        stats.rebuild(cursor)
    after = stored()
    return before, after


def assert_consistent():
    before, after = recounted()
    assert before == after


def test_every_write_path_keeps_the_counts_exact():
    s = store()
    a, b = part("alice"), part("bob")
    s.create(a, "user", "notes", {"n": 1})
    doc = s.create(a, "user", "notes", {"doc_id": "x", "n": 2})
    s.create(a, "user", "tags", {"t": 1})
    s.set(b, "user", "notes/one", {"n": 1})
    s.set(b, "user", "notes/one", {"n": 2})
    assert_consistent()
    partitions, collections = stored()
    assert partitions[("notes", "alice")][:2] == (3, 2)
    assert partitions[("notes", "bob")][:2] == (1, 1)
    assert collections[("notes", "alice", "notes")] == 2

    updated = s.update(a, "user", "notes", "x", {"n": 3}, if_match=doc.etag)
    s.delete(a, "user", "tags", s.query(a, "tags").data[0].id)
    assert_consistent()
    partitions, collections = stored()
    assert partitions[("notes", "alice")][:2] == (2, 1)
    assert ("notes", "alice", "tags") not in collections
    last = stats.Statistics().partition(a).last_write
    assert last == updated.updated_at

    Partitions().erase(a, OP, operator="olga")
    assert_consistent()
    partitions, _ = stored()
    assert ("notes", "alice") not in partitions
    assert ("notes", "bob") in partitions


def test_one_statement_writing_many_partitions_keeps_the_counts_exact():
    s = store()
    s.create(part("alice"), "user", "notes", {"n": 0})  # a partition that exists
    rows = [
        ("t1", "notes", user, collection, f"{user}-{collection}-{n}")
        for user in ("alice", "bob", "carol")
        for collection in ("notes", "tags")
        for n in range(5)
    ]
    values = ", ".join(["(%s, %s, %s, %s, %s, '{}', %s, %s, 'e')"] * len(rows))
    now = "2026-12-01T00:00:00+00:00"
    params = [v for row in rows for v in (*row, now, now)]
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO store_document (tenant_id, app_id, user_id, collection, "
            f"doc_id, data, created_at, updated_at, etag) VALUES {values}",
            params,
        )
        assert_consistent()
        partitions, _ = stored()
        assert partitions[("notes", "alice")][:2] == (11, 2)
        assert partitions[("notes", "carol")][:2] == (10, 2)
        cursor.execute(
            "DELETE FROM store_document WHERE user_id IN ('bob', 'carol') "
            "AND (collection = 'tags' OR user_id = 'carol')"
        )
        assert_consistent()
    partitions, collections = stored()
    assert partitions[("notes", "bob")][:2] == (5, 1)
    assert ("notes", "carol") not in partitions
    assert ("notes", "bob", "tags") not in collections


def test_a_refused_write_changes_nothing():
    s = store()
    a = part("alice")
    s.create(a, "user", "notes", {"doc_id": "x"})
    before = stored()
    with pytest.raises(DocumentExists):
        s.create(a, "user", "notes", {"doc_id": "x"})
    with pytest.raises(ValueError):
        s.create(a, "user", "bad name", {"n": 1})
    assert stored() == before


def load_users(count):
    s = store()
    for index in range(count):
        p = part(f"u{index:03d}")
        for n in range(index % 4 + 1):
            s.create(p, "user", "notes", {"n": n})
    s.create(part("other", app="crm"), "user", "notes", {"n": 1})


@pytest.mark.parametrize(
    "sort", ["user", "-user", "documents", "-documents", "last_write", "-last_write"]
)
def test_users_pages_walk_every_user_once_in_order(sort):
    load_users(23)
    reader = stats.Statistics()
    seen, cursor = [], None
    while True:
        page = reader.users("t1", "notes", sort=sort, cursor=cursor, limit=5)
        seen.extend(page.data)
        cursor = page.cursor
        if cursor is None:
            break
    assert len(seen) == 23 and len({u.user_id for u in seen}) == 23
    field = {"user": "user_id"}.get(sort.lstrip("-"), sort.lstrip("-"))
    keys = [(getattr(u, field), u.user_id) for u in seen]
    assert keys == sorted(keys, reverse=sort.startswith("-"))
    assert all(u.collections == 1 for u in seen)


def test_users_search_and_bad_input():
    load_users(12)
    reader = stats.Statistics()
    page = reader.users("t1", "notes", search="U01")
    assert [u.user_id for u in page.data] == ["u010", "u011"]
    with pytest.raises(ValueError, match="sort must be one of"):
        reader.users("t1", "notes", sort="size")
    first = reader.users("t1", "notes", sort="documents", limit=2)
    with pytest.raises(ValueError, match="belongs to sort"):
        reader.users("t1", "notes", sort="user", cursor=first.cursor)
    with pytest.raises(ValueError, match="is not one a page of users returned"):
        reader.users("t1", "notes", cursor="forged")
    with pytest.raises(ValueError, match="limit"):
        reader.users("t1", "notes", limit=0)


def test_collections_of_a_partition():
    s = store()
    a = part("alice")
    for name in ("b", "a", "b"):
        s.create(a, "user", name, {})
    assert stats.Statistics().collections(a) == [("a", 1), ("b", 2)]
    assert stats.Statistics().partition(part("nobody")) is None
