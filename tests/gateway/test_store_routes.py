"""The store routes as imperal-sdk's StoreClient calls them, checked against the store.

Every answer is compared with what the store core holds (and what the
in-process ctx.store reads); writes are audited with actor ``gateway``.
"""

import base64

import pytest
from asgiref.sync import async_to_sync

from apps.accounts.identity import PlatformUserContext
from apps.extensions.context import build_context
from apps.store.connections import DjangoConnection
from apps.store.core import DocumentStore
from apps.store.models import AuditEntry, Document

from .conftest import APP, error_of, partition

STORE = "/v1/internal/store"


def core():
    return DocumentStore(DjangoConnection())


def in_process_store(registry, user_id):
    user = PlatformUserContext(
        imperal_id=user_id, email="", tenant_id="default", role="user"
    )
    return build_context(registry.get(APP).ext, user).store


def create(gateway, token, data, collection="notes", user="alice", **headers):
    body = {
        "collection": collection,
        "data": data,
        "user_id": user,
        "extension_id": APP,
        "tenant_id": "default",
    }
    return gateway.post(STORE, body, token=token, **headers)


def test_create_returns_the_stored_document_with_its_etag(gateway, wide_token):
    response = create(gateway, wide_token, {"title": "hello"})
    assert response.status_code == 201
    body = response.json()
    stored = core().get(partition("alice"), "notes", body["id"])
    assert body == {
        "id": stored.id,
        "collection": "notes",
        "data": {"title": "hello"},
        "created_at": stored.created_at,
        "updated_at": stored.updated_at,
        "etag": stored.etag,
        "user_id": "alice",
    }
    assert response["ETag"] == f'"{stored.etag}"'
    audit = AuditEntry.objects.get(doc_id=stored.id)
    assert (audit.actor, audit.op, audit.user_id) == ("gateway", "create", "alice")


def test_a_document_written_in_process_is_read_through_the_gateway_and_back(
    gateway, wide_token, registry
):
    store = in_process_store(registry, "alice")
    written = async_to_sync(store.create)("notes", {"doc_id": "n1", "n": 1})
    response = gateway.get(f"{STORE}/notes/n1", token=wide_token, x_acting_user="alice")
    assert response.json()["data"] == {"doc_id": "n1", "n": 1}
    assert response.json()["etag"] == written.etag
    patched = gateway.patch(
        f"{STORE}/notes/n1",
        {"data": {"n": 2}, "extension_id": APP},
        token=wide_token,
        x_acting_user="alice",
    )
    assert patched.status_code == 200
    read_back = async_to_sync(store.get)("notes", "n1")
    assert read_back.data == {"doc_id": "n1", "n": 2}
    assert read_back.etag == patched.json()["etag"] != written.etag


def test_get_of_a_missing_document_is_404_in_the_error_shape(gateway, wide_token):
    response = gateway.get(f"{STORE}/notes/ghost", token=wide_token, x_acting_user="a")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_update_with_a_stale_if_match_is_409_with_the_current_etag(
    gateway, alice_token
):
    doc = core().create(partition("alice"), "user", "notes", {"doc_id": "d", "v": 1})
    response = gateway.patch(
        f"{STORE}/notes/d", {"data": {"v": 2}, "if_match": "stale"}, token=alice_token
    )
    assert response.status_code == 409
    body = response.json()
    # imperal-sdk reads body.get("detail", body).get("current_etag"): the top level.
    assert body["current_etag"] == doc.etag
    assert error_of(response)["detail"]["current_etag"] == doc.etag
    assert core().get(partition("alice"), "notes", "d").data == {"doc_id": "d", "v": 1}


def test_the_if_match_header_is_the_bodys_if_match(gateway, alice_token):
    doc = core().create(partition("alice"), "user", "notes", {"doc_id": "d", "v": 1})
    stale = gateway.patch(
        f"{STORE}/notes/d", {"data": {"v": 2}}, token=alice_token, if_match='"stale"'
    )
    assert stale.status_code == 409
    fresh = gateway.patch(
        f"{STORE}/notes/d",
        {"data": {"v": 2}},
        token=alice_token,
        if_match=f'"{doc.etag}"',
    )
    assert fresh.status_code == 200
    assert fresh["ETag"] == f'"{fresh.json()["etag"]}"'
    assert core().get(partition("alice"), "notes", "d").data["v"] == 2


def test_an_if_match_header_contradicting_the_body_is_400_and_writes_nothing(
    gateway, alice_token
):
    doc = core().create(partition("alice"), "user", "notes", {"doc_id": "d", "v": 1})
    response = gateway.patch(
        f"{STORE}/notes/d",
        {"data": {"v": 2}, "if_match": doc.etag},
        token=alice_token,
        if_match='"other"',
    )
    assert response.status_code == 400
    assert "If-Match header" in error_of(response)["message"]
    assert core().get(partition("alice"), "notes", "d").etag == doc.etag


def test_delete_answers_deleted_true_then_404(gateway, alice_token):
    core().create(partition("alice"), "user", "notes", {"doc_id": "d"})
    first = gateway.delete(f"{STORE}/notes/d?extension_id={APP}", token=alice_token)
    assert (first.status_code, first.json()) == (200, {"deleted": True})
    assert not Document.objects.filter(doc_id="d").exists()
    again = gateway.delete(f"{STORE}/notes/d", token=alice_token)
    assert again.status_code == 404
    assert AuditEntry.objects.filter(doc_id="d", op="delete").get().actor == "gateway"


def test_delete_with_a_stale_if_match_header_is_409_and_keeps_the_document(
    gateway, alice_token
):
    core().create(partition("alice"), "user", "notes", {"doc_id": "d"})
    response = gateway.delete(f"{STORE}/notes/d", token=alice_token, if_match='"x"')
    assert response.status_code == 409
    assert Document.objects.filter(doc_id="d").exists()


def test_query_answers_a_page_and_its_cursor_continues_it(gateway, alice_token):
    for n in range(3):
        core().create(partition("alice"), "user", "notes", {"doc_id": f"d{n}", "n": n})
    core().create(partition("bob"), "user", "notes", {"doc_id": "bobs", "n": 0})
    body = {"where": {}, "order_by": "id", "limit": 2, "user_id": "alice"}
    first = gateway.post(f"{STORE}/notes/query", body, token=alice_token).json()
    assert [d["id"] for d in first["data"]] == ["d0", "d1"]
    assert first["has_more"] is True and first["total"] is None
    body["cursor"] = first["cursor"]
    second = gateway.post(f"{STORE}/notes/query", body, token=alice_token).json()
    assert [d["id"] for d in second["data"]] == ["d2"]
    assert (second["has_more"], second["cursor"]) == (False, None)


def test_a_forged_deeply_nested_cursor_is_a_400_not_a_500(gateway, alice_token):
    forged = base64.urlsafe_b64encode(b"[" * 100_000).decode().rstrip("=") + ".AAAA"
    body = {"where": {}, "limit": 2, "user_id": "alice", "cursor": forged}
    response = gateway.post(f"{STORE}/notes/query", body, token=alice_token)
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid_cursor"
    assert "cursor is not valid" in error_of(response)["message"]


def test_count_counts_the_acting_users_matches_only(gateway, wide_token):
    for user, n in (("alice", 1), ("alice", 2), ("bob", 1)):
        core().create(partition(user), "user", "notes", {"n": n})
    response = gateway.post(
        f"{STORE}/notes/count",
        {"where": {"n": 1}, "user_id": "alice"},
        token=wide_token,
    )
    assert response.json() == {"count": 1}


def test_a_document_named_query_is_still_a_document_for_get(gateway, alice_token):
    core().create(partition("alice"), "user", "notes", {"doc_id": "query", "v": 1})
    response = gateway.get(f"{STORE}/notes/query", token=alice_token)
    assert response.json()["data"] == {"doc_id": "query", "v": 1}


def test_list_users_pages_with_next_cursor_for_the_system_identity(
    gateway, system_token
):
    for user in ("alice", "bob", "charlie"):
        core().create(partition(user), "user", "notes", {"n": 1})
    core().create(partition("__system__"), "system", "notes", {"n": 1})
    path = f"{STORE}/notes/list_users?extension_id={APP}&tenant_id=default"
    first = gateway.get(f"{path}&cursor=0&limit=2", token=system_token).json()
    assert first == {
        "user_ids": ["alice", "bob"],
        "next_cursor": "u:bob",
        "truncated": False,
    }
    second = gateway.get(f"{path}&cursor=u:bob&limit=2", token=system_token).json()
    assert second == {"user_ids": ["charlie"], "next_cursor": None, "truncated": False}


@pytest.mark.parametrize("cursor", ["bob", "1"])
def test_list_users_refuses_a_cursor_it_did_not_make(gateway, system_token, cursor):
    response = gateway.get(
        f"{STORE}/notes/list_users?cursor={cursor}", token=system_token
    )
    assert response.status_code == 400
    assert "list_users cursor" in error_of(response)["message"]


def test_all_returns_every_users_documents_with_their_user_id(gateway, system_token):
    for user in ("alice", "bob"):
        core().create(partition(user), "user", "notes", {"doc_id": f"{user}-1"})
    response = gateway.get(f"{STORE}/notes/all?limit=10", token=system_token)
    assert [(d["user_id"], d["id"]) for d in response.json()] == [
        ("alice", "alice-1"),
        ("bob", "bob-1"),
    ]


@pytest.mark.parametrize("limit", ["ten", "1.5", "", "9" * 30])
def test_a_limit_that_is_not_an_integer_is_refused_by_name(
    gateway, system_token, limit
):
    response = gateway.get(f"{STORE}/notes/all?limit={limit}", token=system_token)
    if limit == "":  # absent: the core's default
        assert response.status_code == 200
        return
    assert response.status_code == 400
    assert "limit must be an integer" in error_of(response)["message"]


def test_a_limit_out_of_the_cores_range_is_the_cores_message(gateway, system_token):
    response = gateway.get(f"{STORE}/notes/all?limit=0", token=system_token)
    assert response.status_code == 400
    assert "limit must be" in error_of(response)["message"]
