"""My data and the operators' partitions: summary, export, erase, browse, audit.

alice owns, bob collaborates, charlie is the outsider: every erase of alice's
data in one extension leaves bob's and charlie's partitions, and alice's
other extensions, exactly as they were (counts and a checksum of the rows).
"""

import hashlib
import json

import pytest

from apps.accounts.partition import Partition
from apps.api.models import OperatorAction
from apps.cache.core import get_core
from apps.store.connections import DjangoConnection
from apps.store.core import DocumentStore
from apps.store.models import AuditEntry, Document
from tests.api.probe_extension import Note
from tests.api.probe_extension import ext as probe_ext

from .conftest import error_of

pytestmark = pytest.mark.django_db
USERS = ("alice", "bob", "charlie")
APPS = ("api-probe", "contacts")
OPERATOR_PARTITION = "/api/v1/operator/extensions/{app}/partitions/{user}"


def partition(user, app):
    return Partition("default", app, user)


@pytest.fixture
def stored(alice, bob, charlie, cache_prefix):
    """Three documents in two collections and two cache entries per user and app."""
    store = DocumentStore(DjangoConnection())
    core = get_core()
    for user in USERS:
        for app in APPS:
            for n, collection in enumerate(("notes", "notes", "tags")):
                store.create(
                    partition(user, app),
                    "user",
                    collection,
                    {"doc_id": f"{collection}-{n}", "owner": user, "app": app, "n": n},
                )
        for key in ("a", "b"):
            core.set(partition(user, "api-probe"), probe_ext, key, Note(text=user))
    return store


def rows_outside(user, app):
    """Return (count, sha256) of every document row not in (user, app)."""
    rows = (
        Document.objects.exclude(user_id=user, app_id=app)
        .order_by("tenant_id", "app_id", "user_id", "collection", "doc_id")
        .values_list(
            "tenant_id", "app_id", "user_id", "collection", "doc_id", "data", "etag"
        )
    )
    digest = hashlib.sha256()
    count = 0
    for row in rows:
        digest.update(json.dumps(row, sort_keys=True, default=str).encode())
        count += 1
    return count, digest.hexdigest()


def cache_count(user, app="api-probe"):
    return len(get_core().list_entries(partition(user, app)))


def read_export(response):
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    return json.loads(b"".join(response.streaming_content))


def test_my_data_summarizes_each_extension(stored, as_alice):
    summary = as_alice.get("/api/v1/me/data").json()
    assert summary["user_id"] == "alice"
    by_app = {s["app_id"]: s for s in summary["extensions"]}
    assert set(by_app) == set(APPS)
    assert by_app["api-probe"]["documents"] == 3
    assert by_app["api-probe"]["collections"] == [
        {"name": "notes", "documents": 2},
        {"name": "tags", "documents": 1},
    ]
    assert by_app["api-probe"]["cache_entries"] == 2
    assert by_app["contacts"]["cache_entries"] == 0


def test_export_then_erase_touches_only_alices_partition_in_that_extension(
    stored, as_alice
):
    before = rows_outside("alice", "api-probe")
    exported = read_export(as_alice.get("/api/v1/me/data/export?extension=api-probe"))
    assert exported["count"] == 3 and exported["user_id"] == "alice"
    assert {(d["collection"], d["id"]) for d in exported["documents"]} == {
        ("notes", "notes-0"),
        ("notes", "notes-1"),
        ("tags", "tags-2"),
    }
    assert all(d["data"]["owner"] == "alice" for d in exported["documents"])

    erased = as_alice.delete("/api/v1/me/data?extension=api-probe").json()
    assert erased["documents_deleted"] == 3
    assert erased["cache_entries_deleted"] == 2 and erased["cache_erase_complete"]
    assert "ctx.db" in erased["db_rows"]

    assert not Document.objects.filter(user_id="alice", app_id="api-probe").exists()
    assert rows_outside("alice", "api-probe") == before
    assert Document.objects.filter(user_id="alice", app_id="contacts").count() == 3
    assert (cache_count("alice"), cache_count("bob"), cache_count("charlie")) == (
        0,
        2,
        2,
    )


def test_an_erase_is_audited_per_document_and_once_for_the_erase(stored, as_alice):
    as_alice.delete("/api/v1/me/data?extension=api-probe")
    audit = AuditEntry.objects.filter(user_id="alice", app_id="api-probe")
    deletes = audit.filter(op="delete")
    assert sorted(deletes.values_list("doc_id", flat=True)) == [
        "notes-0",
        "notes-1",
        "tags-2",
    ]
    assert set(deletes.values_list("actor", flat=True)) == {"user"}
    erase = audit.get(op="erase")
    assert (erase.collection, erase.doc_id, erase.actor) == ("*", "*", "user")
    assert (
        not AuditEntry.objects.filter(op__in=["delete", "erase"])
        .exclude(user_id="alice", app_id="api-probe")
        .exists()
    )


def test_the_whole_export_holds_every_extension_of_mine_only(stored, as_alice):
    exported = read_export(as_alice.get("/api/v1/me/data/export"))
    assert exported["count"] == 6
    assert {d["app_id"] for d in exported["documents"]} == set(APPS)
    assert {d["data"]["owner"] for d in exported["documents"]} == {"alice"}


@pytest.mark.parametrize(
    "query, status, fragment",
    [("", 400, "extension"), ("?extension=nope", 404, "unknown extension 'nope'")],
)
def test_a_bad_erase_is_refused_and_nothing_changes(
    stored, as_alice, query, status, fragment
):
    before = rows_outside("nobody", "none")
    error = error_of(as_alice.delete(f"/api/v1/me/data{query}"), status)
    assert fragment in json.dumps(error)
    assert rows_outside("nobody", "none") == before
    assert cache_count("alice") == 2


# --- operators ----------------------------------------------------------------------


def test_an_operator_erase_is_audited_with_the_operators_name(stored, make_operator):
    _, olga = make_operator("olga", "store.delete_document")
    before = rows_outside("bob", "api-probe")
    erased = olga.delete(OPERATOR_PARTITION.format(app="api-probe", user="bob")).json()
    assert erased["documents_deleted"] == 3
    assert rows_outside("bob", "api-probe") == before
    action = OperatorAction.objects.get()
    assert (action.operator, action.action, action.user_id, action.documents) == (
        "olga",
        "erase",
        "bob",
        3,
    )
    assert action.cache_entries == 2
    erase = AuditEntry.objects.get(op="erase")
    assert (erase.actor, erase.operator, erase.user_id) == ("operator", "olga", "bob")


def test_an_operator_export_is_recorded_with_its_count(stored, make_operator):
    _, olga = make_operator("olga", "store.view_document")
    exported = read_export(
        olga.get(OPERATOR_PARTITION.format(app="contacts", user="charlie") + "/export")
    )
    assert exported["count"] == 3
    assert {d["data"]["owner"] for d in exported["documents"]} == {"charlie"}
    action = OperatorAction.objects.get()
    assert (action.operator, action.action, action.documents) == ("olga", "export", 3)


def test_the_partition_list_counts_searches_and_pages(stored, make_operator):
    _, olga = make_operator("olga", "store.view_document")
    url = "/api/v1/operator/extensions/contacts/partitions"
    first = olga.get(f"{url}?limit=2").json()
    assert [(u["user_id"], u["documents"]) for u in first["data"]] == [
        ("alice", 3),
        ("bob", 3),
    ]
    assert first["has_more"] and first["data"][0]["last_write"]
    rest = olga.get(f"{url}?limit=2&cursor={first['cursor']}").json()
    assert [u["user_id"] for u in rest["data"]] == ["charlie"] and not rest["has_more"]
    found = olga.get(f"{url}?search=AR").json()["data"]
    assert [u["user_id"] for u in found] == ["charlie"]
    assert olga.get(f"{url}?search=%25").json()["data"] == []  # % is literal


def test_one_partition_is_browsed_with_where_and_order_by(stored, make_operator):
    _, olga = make_operator("olga", "store.view_document")
    url = OPERATOR_PARTITION.format(app="contacts", user="bob") + "/documents"
    page = olga.get(url, data={"collection": "notes", "order_by": "-n"}).json()
    assert [d["id"] for d in page["data"]] == ["notes-1", "notes-0"]
    where = json.dumps({"n": {"$gte": 1}})
    page = olga.get(url, data={"collection": "notes", "where": where}).json()
    assert [d["data"]["owner"] for d in page["data"]] == ["bob"]
    summary = olga.get(OPERATOR_PARTITION.format(app="contacts", user="bob")).json()
    assert summary["documents"] == 3


@pytest.mark.parametrize(
    "query, fragment",
    [
        ({"collection": "notes", "where": "{not json"}, "where must be JSON"),
        ({"collection": "notes", "where": '{"n": {"$nope": 1}}'}, "$nope"),
        ({"collection": "no/slash"}, "collection must be"),
        ({"collection": "notes", "cursor": "garbage"}, "cursor"),
    ],
)
def test_a_bad_browse_is_a_400_naming_the_rule(stored, make_operator, query, fragment):
    _, olga = make_operator("olga", "store.view_document")
    url = OPERATOR_PARTITION.format(app="contacts", user="bob") + "/documents"
    error = error_of(olga.get(url, data=query), 400)
    assert fragment in json.dumps(error)
