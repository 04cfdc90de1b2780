"""The bundled samples and `imperal init`'s scaffold answer the same run isolated as
in-process, on the same stored state: the contacts sample (every tool, pagination cursors
included, and its panel), my_app's ctx.db tools (the seed's spend report, as
tests/db/test_seed.py checks it in-process) and its daily digest, web_tools' monitors
and their hourly runner (imperal-sdk's list_users/as_user loop), and the scaffold's
ctx.db and ctx.store tools (as its own tests/test_platform.py checks them)."""

import io
import json
import subprocess
import sys
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings as django_settings
from django.core.management import call_command

from apps.db.face import DbFace
from apps.extensions.invocation import prepare_panel, prepare_tool
from apps.extensions.sync import sync_extensions
from apps.notifications.models import Notification
from apps.scheduler.fire import fire_schedule, manual_slot
from apps.store.models import Document
from tests.compat.server import LiveServer

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
CONTACTS, MY_APP, WEB_TOOLS, SCAFFOLD = "contacts", "my-app", "web-tools", "field-log"
ENTRIES = {
    CONTACTS: "extensions.contacts",
    MY_APP: "extensions/my_app",
    WEB_TOOLS: "extensions/web_tools",
}


@pytest.fixture(scope="module")
def scaffold(tmp_path_factory):
    """The directory `manage.py startextension field-log` writes (imperal init's)."""
    target = tmp_path_factory.mktemp("scaffold") / SCAFFOLD
    subprocess.run(
        [sys.executable, "manage.py", "startextension", SCAFFOLD, str(target)],
        cwd=django_settings.BASE_DIR,
        capture_output=True,
        check=True,
    )
    return str(target)


@pytest.fixture(scope="module")
def samples_server(django_db_setup, django_db_blocker, tmp_path_factory, scaffold):
    """The production server with the four run isolated, one worker each."""
    apps = {app: "isolated" for app in [*ENTRIES, SCAFFOLD]}
    live = LiveServer(
        tmp_path_factory.mktemp("samples"),
        extensions=",".join([*ENTRIES.values(), scaffold]),
        env={
            "IMPERAL_EXTENSION_RUNTIME": json.dumps(apps),
            "IMPERAL_RUNTIME_POOL_SIZE": "1",
        },
    )
    live.start()
    yield live
    live.stop()


@pytest.fixture(params=["in-process", "isolated"])
def sample(request, settings, use_extensions, scaffold):
    """Return a function loading one sample in the test's runtime; it returns its app_id."""

    def load(app_id):
        settings.IMPERAL_EXTENSION_RUNTIME = {app_id: request.param}
        settings.IMPERAL_HANDLER_TIMEOUTS = {app_id: 15}
        sync_extensions(use_extensions(ENTRIES.get(app_id, scaffold)))
        if request.param == "isolated":
            request.getfixturevalue("samples_server")
        return app_id

    return load


def tool(app_id, handler, user="alice", **params):
    return async_to_sync(prepare_tool(app_id, handler, user, params).run)()


def fire(app_id, name):
    run = fire_schedule(app_id, name, slot=manual_slot(), trigger="manual", local=True)
    run.refresh_from_db()
    return run


def migrated(app_id, table):
    """Apply ``app_id``'s ctx.db migrations to a fresh ``table``.

    The table is dropped rather than the whole area: the server's pooled
    connections keep the extension's file (SQLite) open.
    """
    sql(app_id, f"DROP TABLE IF EXISTS {table}")
    call_command("migrate_extensions", app_id, stdout=io.StringIO())


def sql(app_id, text):
    async def run():
        async with DbFace(app_id).acquire() as conn:
            return (await conn.execute(text)).all()

    return async_to_sync(run)()


def test_the_contacts_sample_answers_the_same(sample, alice, bob):
    app = sample(CONTACTS)
    ada = tool(app, "add_contact", name="Ada", email="ada@example.com")
    tool(app, "add_contact", name="Bob", email="bob@example.com", phone="1")
    tool(app, "add_contact", "bob", name="Eve", email="eve@example.com")
    assert ada["status"] == "success"
    first = tool(app, "list_contacts", limit=1)
    assert [c["name"] for c in first["items"]] == ["Bob"]
    assert first["has_more"] is True
    rest = tool(app, "list_contacts", limit=1, cursor=first["cursor"])
    assert [c["name"] for c in rest["items"]] == ["Ada"]
    assert tool(app, "find_contact", email="ada@example.com") == {
        "status": "success",
        "id": ada["id"],
        "name": "Ada",
        "email": "ada@example.com",
        "phone": "",
    }
    assert tool(app, "find_contact", email="eve@example.com")["status"] == "not_found"
    panel = async_to_sync(prepare_panel(app, "address_book", "alice", {}).run)()
    assert panel["total"] == 2
    assert [c["name"] for c in panel["contacts"]] == ["Ada", "Bob"]
    assert tool(app, "delete_contact", contact_id=ada["id"])["status"] == "success"
    stored = Document.objects.in_partition("default", app, "alice")
    assert [d.data["name"] for d in stored] == ["Bob"]
    assert Document.objects.in_partition("default", app, "bob").count() == 1


def test_my_apps_spend_report_sums_the_calling_users_month_only(
    sample, alice, bob, charlie
):
    app = sample(MY_APP)
    migrated(app, "ad_spend")
    spends = [
        ("alice", "search", 5, 1, 10.25),
        ("alice", "search", 5, 2, 20.00),
        ("alice", "social", 5, 1, 40.50),
        ("alice", "search", 6, 1, 500.00),  # another month
        ("bob", "search", 5, 1, 999.00),  # another user
    ]
    for user, campaign, month, day, spend in spends:
        recorded = tool(
            app,
            "record_spend",
            user,
            campaign_id=campaign,
            year=2026,
            month=month,
            day=day,
            spend=spend,
        )
        assert recorded["status"] == "success"
    report = tool(app, "fetch_spend_report", year=2026, month=5)
    totals = [(r["campaign_id"], Decimal(str(r["total"]))) for r in report["rows"]]
    assert totals == [("social", Decimal("40.5")), ("search", Decimal("30.25"))]
    assert tool(app, "fetch_spend_report", "charlie", year=2026, month=5)["rows"] == []
    stored = sql(app, "SELECT user_id, COUNT(*) AS n FROM ad_spend GROUP BY user_id")
    assert sorted((r["user_id"], r["n"]) for r in stored) == [("alice", 4), ("bob", 1)]


def test_the_scaffolds_visits_and_notes_answer_the_same(sample, alice, bob):
    app = sample(SCAFFOLD)
    migrated(app, "visits")
    assert tool(app, "record_visit", page="home") == {"visits": 1}
    assert tool(app, "record_visit", page="home") == {"visits": 2}
    assert tool(app, "record_visit", "bob", page="home") == {"visits": 1}
    note = tool(app, "add_note", text="water the plants")
    assert tool(app, "complete_note", note_id=note["id"]) == {
        "id": note["id"],
        "done": True,
    }
    assert Document.objects.in_partition("default", app, "bob").count() == 0


def test_my_apps_daily_digest_reaches_each_user_with_contacts(sample, alice, bob):
    app = sample(MY_APP)
    tool(app, "save_contact", email="ada@example.com", name="Ada")
    tool(app, "save_contact", email="alan@example.com", name="Alan")
    tool(app, "save_contact", "bob", email="grace@example.com", name="Grace")
    run = fire(app, "daily_digest")
    assert run.status == "success", run.error
    assert run.users_fanned_out == 2
    digests = Notification.objects.filter(app_id=app)
    assert sorted(digests.values_list("user_id", "message")) == [
        ("alice", "You have 2 contacts."),
        ("bob", "You have 1 contacts."),
    ]


def test_web_tools_runner_checks_each_users_enabled_monitors(
    sample, alice, bob, charlie
):
    app = sample(WEB_TOOLS)
    on = tool(app, "add_monitor", url="https://a.example")["id"]
    tool(app, "add_monitor", url="https://off.example", enabled=False)
    tool(app, "add_monitor", "bob", url="https://b.example")
    run = fire(app, "check_monitors")
    assert run.status == "success", run.error
    assert run.users_fanned_out == 2
    mine = {m["url"]: m for m in tool(app, "list_monitors")["items"]}
    assert mine["https://a.example"]["id"] == on
    assert mine["https://a.example"]["checks"] == 1
    assert mine["https://a.example"]["last_checked"]
    assert mine["https://off.example"]["checks"] == 0
    assert [m["checks"] for m in tool(app, "list_monitors", "bob")["items"]] == [1]
    assert tool(app, "list_monitors", "charlie")["items"] == []
