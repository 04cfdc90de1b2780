"""The seed's ctx.store examples, run verbatim in the sample extensions, do what the seed
says; plus the web-tools sample's fan-out with imperal-sdk's own loop."""

import io
import json

import pytest
from asgiref.sync import async_to_sync
from django.core.management import call_command

from apps.accounts.identity import user_context
from apps.accounts.partition import Partition
from apps.extensions.context import build_context
from apps.extensions.invocation import prepare_panel, prepare_tool
from apps.notifications.models import Notification
from apps.store.connections import DjangoConnection
from apps.store.core import DocumentStore
from apps.store.models import AuditEntry, Document
from tests.fixtures.samples import sample_module

pytestmark = pytest.mark.django_db
SAMPLES = (
    "extensions/my_app",
    "extensions.contacts",
    "extensions/web_tools",
    "tests.fixtures.extensions.fanout_probe",
)


@pytest.fixture
def samples(use_extensions):
    return use_extensions(*SAMPLES)


def call(app, tool, user, **params):
    return async_to_sync(prepare_tool(app, tool, user, params).run)()


def fire(app, schedule):
    out = io.StringIO()
    call_command("ext", "fire", app, schedule, stdout=out)
    return json.loads(out.getvalue())


def test_save_contact_creates_then_updates_the_same_document(samples, alice):
    first = call("my-app", "save_contact", "alice", email="ada@example.com", name="Ada")
    second = call(
        "my-app", "save_contact", "alice", email="ada@example.com", name="Ada L."
    )
    other = call(
        "my-app", "save_contact", "alice", email="alan@example.com", name="Alan"
    )
    assert first["status"] == "success" and first["id"] == second["id"] != other["id"]
    rows = Document.objects.filter(
        app_id="my-app", user_id="alice", collection="contacts"
    )
    assert sorted(r.data["name"] for r in rows) == ["Ada L.", "Alan"]
    assert list(AuditEntry.objects.order_by("id").values_list("op", flat=True)) == [
        "create",
        "update",
        "create",
    ]


def test_list_active_monitors_returns_the_users_active_monitors_newest_first(
    samples, alice
):
    store, part = (
        DocumentStore(DjangoConnection()),
        Partition("default", "my-app", "alice"),
    )
    for name, active in (("old", True), ("off", False), ("new", True)):
        store.create(
            part,
            "user",
            "wt_monitors",
            {"doc_id": name, "owner_id": "alice", "is_active": active},
        )
    store.update(part, "user", "wt_monitors", "old", {"touched": 1})  # now the newest
    store.create(part, "user", "wt_monitors", {"owner_id": "bob", "is_active": True})
    result = call("my-app", "list_active_monitors", "alice")
    assert result["status"] == "success"
    assert [(i["id"], i["is_active"]) for i in result["items"]] == [
        ("old", True),
        ("new", True),
    ]
    assert result["items"][0]["touched"] == 1


def test_daily_digest_fans_out_to_users_with_contacts_via_ext_fire(
    samples, alice, bob, charlie
):
    for email in ("a@example.com", "b@example.com"):
        call("my-app", "save_contact", "alice", email=email, name=email)
    call("my-app", "save_contact", "bob", email="c@example.com", name="C")
    call("contacts", "add_contact", "charlie", name="Not my-app", email="x@example.com")
    outcome = fire("my-app", "daily_digest")
    assert (outcome["status"], outcome["users_fanned_out"]) == ("success", 2)
    sent = sorted(Notification.objects.values_list("user_id", "app_id", "message"))
    assert sent == [
        ("alice", "my-app", "You have 2 contacts."),
        ("bob", "my-app", "You have 1 contacts."),
    ]


def test_web_tools_fan_out_with_the_sdk_loop_via_ext_fire(samples, alice, bob):
    call("web-tools", "add_monitor", "alice", url="https://a.example")
    call("web-tools", "add_monitor", "alice", url="https://b.example", enabled=False)
    call("web-tools", "add_monitor", "bob", url="https://c.example")
    outcome = fire("web-tools", "check_monitors")
    assert outcome["status"] == "success" and outcome["users_fanned_out"] == 2
    rows = Document.objects.filter(app_id="web-tools").order_by("data__url")
    assert [(r.user_id, r.data["url"], r.data["checks"]) for r in rows] == [
        ("alice", "https://a.example", 1),
        ("alice", "https://b.example", 0),
        ("bob", "https://c.example", 1),
    ]
    actors = set(AuditEntry.objects.filter(op="update").values_list("actor", flat=True))
    assert actors == {"system-as-user"}


def test_query_all_in_a_schedule_sees_every_user(samples, alice, bob):
    from apps.extensions.invocation import prepare_schedule, run_schedule_handler

    call("fanout-probe", "add_item", "alice", name="a")
    call("fanout-probe", "add_item", "bob", name="b")
    call("fanout-probe", "add_item", "bob", name="c")
    handler, ctx = prepare_schedule("fanout-probe", "count_all")
    outcome = async_to_sync(run_schedule_handler)(
        "fanout-probe", "count_all", handler, ctx
    )
    assert outcome.result == {"alice": 1, "bob": 2}


def test_a_user_tool_cannot_fan_out(samples, alice):
    result = call("fanout-probe", "try_fan_out", "alice")
    assert result["raised"] == "RuntimeError"
    assert "requires system context" in result["message"]


def test_the_contacts_sample_pages_finds_and_deletes(samples, alice):
    ids = [
        call("contacts", "add_contact", "alice", name=n, email=f"{n}@x")["id"]
        for n in "cab"
    ]
    first = call("contacts", "list_contacts", "alice", limit=2)
    rest = call("contacts", "list_contacts", "alice", limit=2, cursor=first["cursor"])
    assert [i["id"] for i in first["items"] + rest["items"]] == ids[::-1]
    assert call("contacts", "find_contact", "alice", email="a@x")["name"] == "a"
    assert (
        call("contacts", "delete_contact", "alice", contact_id=ids[0])["status"]
        == "success"
    )
    panel = async_to_sync(prepare_panel("contacts", "address_book", "alice").run)()
    assert panel["total"] == 2 and [c["name"] for c in panel["contacts"]] == ["a", "b"]


def test_the_common_mistakes_store_examples_run(samples, alice):
    from pydantic import BaseModel

    common_mistakes = sample_module(samples.get("my-app"), "common_mistakes")

    class Creds(BaseModel):
        token: str

    ctx = build_context(samples.get("my-app").ext, user_context(alice))
    async_to_sync(common_mistakes._right_store_for_credentials)(ctx, Creds(token="t"))
    async_to_sync(common_mistakes._wrong_store_for_ephemeral)(ctx, {"unread": 1}, None)
    async_to_sync(common_mistakes._right_store_for_kv)(ctx)
    assert sorted(Document.objects.values_list("collection", "data")) == [
        ("credentials", {"token": "t"})
    ]
    ops = list(AuditEntry.objects.order_by("id").values_list("collection", "op"))
    assert ops == [
        ("credentials", "create"),
        ("inbox_snapshot", "create"),
        ("inbox_snapshot", "delete"),
    ]
