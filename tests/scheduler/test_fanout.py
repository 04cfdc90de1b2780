"""Both list_users loops inside real schedules: the seed's and imperal-sdk's."""

import pytest
from asgiref.sync import async_to_sync

from apps.extensions.invocation import prepare_tool
from apps.notifications.models import Notification
from apps.scheduler.fire import fire_schedule, manual_slot

pytestmark = pytest.mark.django_db


@pytest.fixture
def users(alice, bob, charlie):
    return alice, bob, charlie


def call(app_id, tool, uid, **params):
    return async_to_sync(prepare_tool(app_id, tool, uid, params).run)()


def fire(app_id, name):
    run = fire_schedule(app_id, name, slot=manual_slot(), trigger="manual")
    run.refresh_from_db()
    return run


def test_the_seed_daily_digest_reaches_every_user_with_contacts_and_no_one_else(users):
    call("my-app", "save_contact", "alice", email="ada@example.com", name="Ada")
    call("my-app", "save_contact", "alice", email="alan@example.com", name="Alan")
    call("my-app", "save_contact", "bob", email="grace@example.com", name="Grace")
    # Contacts of another extension are another extension's business.
    call("contacts", "add_contact", "charlie", name="Edsger", email="ew@example.com")

    run = fire("my-app", "daily_digest")

    assert run.status == "success", run.error
    assert run.users_fanned_out == 2
    digests = Notification.objects.filter(app_id="my-app")
    assert dict(digests.values_list("user_id", "message")) == {
        "alice": "You have 2 contacts.",
        "bob": "You have 1 contacts.",
    }


def test_the_sdk_loop_checks_every_users_enabled_monitors(users):
    first = call("web-tools", "add_monitor", "alice", url="https://a.example")["id"]
    call("web-tools", "add_monitor", "alice", url="https://off.example", enabled=False)
    call("web-tools", "add_monitor", "bob", url="https://b.example")

    run = fire("web-tools", "check_monitors")

    assert run.status == "success", run.error
    assert run.result == {"checked": 2}
    assert run.users_fanned_out == 2
    alice = {m["url"]: m for m in call("web-tools", "list_monitors", "alice")["items"]}
    assert alice["https://a.example"]["checks"] == 1
    assert alice["https://a.example"]["last_checked"]
    assert alice["https://off.example"]["checks"] == 0
    assert [m["id"] for m in alice.values() if m["checks"]] == [first]
    bob = call("web-tools", "list_monitors", "bob")["items"]
    assert [m["checks"] for m in bob] == [1]
    assert call("web-tools", "list_monitors", "charlie")["items"] == []
