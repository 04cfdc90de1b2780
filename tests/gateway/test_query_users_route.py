"""``POST …/{collection}/query_users``: several users' first pages in one request,
for the kernel's fan-out only, each page what ``…/query`` answers that user.

The worker's side (its read-ahead): tests/runtime/test_readahead.py.
"""

import pytest

from apps.accounts.models import SecurityEvent
from apps.accounts.partition import Partition
from apps.gateway.tokens import issue_token
from apps.store.connections import DjangoConnection
from apps.store.core import DocumentStore
from apps.store.models import AuditEntry, Document

from .conftest import error_of, fire_token

pytestmark = pytest.mark.django_db
APP = "digest"
USERS = ["alice", "bob", "carol"]
OUTSIDER = "mallory"
QUERY_USERS = "/v1/internal/store/subscriptions/query_users"
QUERY = "/v1/internal/store/subscriptions/query"
BODY = {"where": {"kind": "news"}, "order_by": "-rank", "limit": 2}


@pytest.fixture
def digest(use_extensions):
    """Subscriptions of alice (3 news), bob (1 news, 1 sport), carol (none) and
    the outsider (3 news)."""
    use_extensions("tests.scheduler.digest_extension")
    store = DocumentStore(DjangoConnection())
    held = {"alice": ["news"] * 3, "bob": ["news", "sport"], OUTSIDER: ["news"] * 3}
    for user_id, kinds in held.items():
        for rank, kind in enumerate(kinds):
            data = {"kind": kind, "rank": rank}
            store.create(
                Partition("default", APP, user_id), "user", "subscriptions", data
            )


def token_of(user_id="__system__", kind="schedule"):
    return fire_token(0, 1, user_id=user_id, kind=kind)[0]


def audit_rows():
    return AuditEntry.objects.count()


def event_rows():
    """Return every SecurityEvent row, by primary key."""
    fields = ("kind", "tenant_id", "app_id", "user_id", "count", "detail")
    return {row[0]: row[1:] for row in SecurityEvent.objects.values_list("pk", *fields)}


def stored_documents():
    return sorted(
        Document.objects.filter(app_id=APP).values_list(
            "user_id", "doc_id", "data", "etag"
        )
    )


def test_each_users_page_is_what_query_answers_that_user(gateway, digest):
    token = token_of()
    response = gateway.post(QUERY_USERS, {**BODY, "users": USERS}, call=token)
    assert response.status_code == 200, response.content
    pages = response.json()["pages"]
    assert list(pages) == USERS
    for user_id in USERS:
        alone = gateway.post(QUERY, BODY, call=token, x_acting_user=user_id)
        assert pages[user_id] == alone.json()
    assert [d["data"]["rank"] for d in pages["alice"]["data"]] == [2, 1]
    assert pages["alice"]["has_more"] and pages["alice"]["cursor"]
    assert [d["data"]["kind"] for d in pages["bob"]["data"]] == ["news"]
    assert pages["carol"] == {
        "data": [],
        "cursor": None,
        "has_more": False,
        "total": None,
    }


def test_a_webhook_calls_token_may_read_ahead_too(gateway, digest):
    token = token_of("__webhook__", kind="webhook")
    response = gateway.post(QUERY_USERS, {"users": ["bob"]}, call=token)
    assert response.status_code == 200, response.content
    assert len(response.json()["pages"]["bob"]["data"]) == 2


def test_a_users_cursor_from_it_continues_with_query(gateway, digest):
    token = token_of()
    first = gateway.post(QUERY_USERS, {**BODY, "users": ["alice"]}, call=token)
    cursor = first.json()["pages"]["alice"]["cursor"]
    rest = gateway.post(
        QUERY, {**BODY, "cursor": cursor}, call=token, x_acting_user="alice"
    )
    assert [d["data"]["rank"] for d in rest.json()["data"]] == [0]


@pytest.mark.parametrize(
    "credential",
    ["user call token", "tool call token", "extension-wide token", "system token"],
)
def test_any_credential_but_a_fan_outs_call_token_is_refused_and_recorded(
    gateway, digest, threats, issued, credential
):
    before = threats.snapshot("gateway_fan_out_read", APP)
    sent = {"users": USERS, **BODY}
    if credential == "user call token":
        response = gateway.post(QUERY_USERS, sent, call=token_of("alice"))
    elif credential == "tool call token":
        response = gateway.post(QUERY_USERS, sent, call=token_of("bob", kind="tool"))
    else:
        bound = "__system__" if credential == "system token" else ""
        issued.append(issue_token(APP, user_id=bound).raw)
        response = gateway.post(QUERY_USERS, sent, token=issued[-1])
    assert response.status_code == 403, response.content
    assert (
        "only a system or webhook invocation's call token"
        in (error_of(response)["message"])
    )
    attempts, counted = threats.snapshot("gateway_fan_out_read", APP)
    assert (attempts - before[0], counted - before[1]) == (1, 1)


@pytest.mark.parametrize("privileged", ["__system__", "__webhook__"])
def test_a_privileged_user_in_the_list_is_refused_and_recorded(
    gateway, digest, threats, privileged
):
    before = threats.snapshot("gateway_privileged_user", APP)
    events, docs, rows = event_rows(), stored_documents(), audit_rows()
    body = {"users": ["alice", privileged], **BODY}
    response = gateway.post(QUERY_USERS, body, call=token_of())
    assert response.status_code == 403
    assert error_of(response)["code"] == "forbidden"
    message = error_of(response)["message"]
    assert f"users[1] {privileged!r} is a privileged identity" in message
    assert "users must be ordinary user ids" in message
    assert "cannot be fanned out to" in message
    assert "ext token" not in message and "extension-wide" not in message
    attempts, counted = threats.snapshot("gateway_privileged_user", APP)
    assert (attempts - before[0], counted - before[1]) == (1, 1)
    after = event_rows()
    [new] = [pk for pk in after if pk not in events]
    assert {pk: row for pk, row in after.items() if pk != new} == events
    kind, tenant_id, app_id, user_id, count, detail = after[new]
    assert (kind, tenant_id, app_id, user_id, count) == (
        "gateway_privileged_user",
        "default",
        APP,
        "__system__",
        1,
    )
    assert sorted(detail) == ["credential", "named", "source"]
    assert (detail["source"], detail["named"]) == ("users[1]", privileged)
    assert stored_documents() == docs and audit_rows() == rows


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"users": ["alice", "a b"]}, "the acting user (users[1])"),
        ({"users": ["alice", 7]}, "the acting user (users[1])"),
        ({"users": []}, "users must be a list of 1-100 user ids, got 0"),
        ({"users": "alice"}, "users must be a list of 1-100 user ids, got str"),
        ({}, "users must be a list of 1-100 user ids, got NoneType"),
        ({"users": [f"u{n}" for n in range(101)]}, "1-100 user ids, got 101"),
        ({"users": USERS, "where": {"kind": {"$nope": 1}}}, "unknown operator"),
        ({"users": USERS, "where": ["kind"]}, "where must be a dict"),
        ({"users": USERS, "limit": 0}, "limit"),
        ({"users": USERS, "order_by": "-"}, "order_by"),
        ({"users": USERS, "cursor": "abc"}, "first pages only"),
    ],
)
def test_bad_input_is_400_naming_the_rule_and_records_no_threat(
    gateway, digest, threats, body, words
):
    rows, before = audit_rows(), threats.snapshot("gateway_privileged_user", APP)
    response = gateway.post(QUERY_USERS, body, call=token_of())
    assert response.status_code == 400, response.content
    assert error_of(response)["code"] == "invalid_argument"
    assert words in error_of(response)["message"]
    assert threats.snapshot("gateway_privileged_user", APP) == before
    assert audit_rows() == rows


def test_it_reads_the_outsider_only_when_named(gateway, digest):
    response = gateway.post(QUERY_USERS, {"users": ["bob"]}, call=token_of())
    assert set(response.json()["pages"]) == {"bob"}
    assert all(d["user_id"] == "bob" for d in response.json()["pages"]["bob"]["data"])
