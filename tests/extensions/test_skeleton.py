"""@ext.skeleton sections: refreshed per user on their TTL by the beat task, alerted on
change only, readable through ctx.skeleton in skeleton calls and refused elsewhere."""

import datetime

import pytest
from asgiref.sync import async_to_sync
from imperal_sdk.errors import SkeletonAccessForbidden

from apps.accounts.partition import Partition
from apps.extensions.errors import HandlerFailed
from apps.extensions.invocation import prepare_tool
from apps.extensions.models import Extension as ExtensionRow
from apps.extensions.models import SkeletonSection
from apps.extensions.skeleton import (
    LEASE_GRACE_SECONDS,
    VALUE_MAX_BYTES,
    refresh_due,
    refresh_section,
)
from apps.extensions.sync import sync_extensions
from apps.store.models import Document

pytestmark = pytest.mark.django_db

APP = "skeleton-probe"
START = datetime.datetime(2026, 3, 1, 9, 0, tzinfo=datetime.UTC)


class Clock:
    """A clock the test moves; contexts and refreshes read the time from it."""

    def __init__(self, now=START):
        self.now = now

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += datetime.timedelta(seconds=seconds)


@pytest.fixture
def probe(use_extensions):
    loaded = use_extensions(f"tests.fixtures.extensions.{APP.replace('-', '_')}")
    sync_extensions()
    return loaded.get(APP)


@pytest.fixture
def clock():
    return Clock()


def call(tool, user="alice", **params):
    return async_to_sync(prepare_tool(APP, tool, user, params).run)()


def section(user, name="inbox"):
    return SkeletonSection.objects.get(app_id=APP, user_id=user, section=name)


def test_each_installed_user_gets_their_own_value_from_a_skeleton_call(
    probe, alice, bob, charlie, clock
):
    call("add_message", subject="a")
    call("add_message", subject="b")
    call("add_message", user="bob", subject="c")

    refresh_due(clock)

    assert section("alice").value == {
        "unread": 2,
        "user": "alice",
        "tool_type": "skeleton",
    }
    assert section("bob").value["unread"] == 1
    assert section("alice").refreshed_at == START
    assert section("alice").due_at == START + datetime.timedelta(seconds=60)
    assert not SkeletonSection.objects.filter(user_id="charlie").exists()


def test_a_section_is_refreshed_again_only_once_its_ttl_passed(probe, alice, clock):
    call("add_message", subject="a")
    refresh_due(clock)
    call("add_message", subject="b")

    clock.advance(59)
    refresh_due(clock)
    assert (section("alice").refreshes, section("alice").value["unread"]) == (1, 1)

    clock.advance(1)
    refresh_due(clock)
    assert (section("alice").refreshes, section("alice").value["unread"]) == (2, 2)
    # digest has a TTL of 300 s: still its first value.
    assert section("alice", "digest").refreshes == 1


def test_the_alert_runs_when_the_value_changed_and_not_otherwise(probe, alice, clock):
    call("add_message", subject="a")
    refresh_due(clock)  # the first value is a baseline, not a change
    clock.advance(60)
    refresh_due(clock)  # same value
    assert section("alice").alerts == 0
    assert not Document.objects.filter(collection="alerts").exists()

    call("add_message", subject="b")
    clock.advance(60)
    refresh_due(clock)

    row = section("alice")
    assert (row.alerts, row.alerted_at) == (1, clock.now)
    assert row.last_alert == {"response": "2 unread (was 1)"}
    alert = Document.objects.get(collection="alerts")
    assert (
        alert.user_id,
        alert.data["old"]["unread"],
        alert.data["new"]["unread"],
    ) == (
        "alice",
        1,
        2,
    )

    clock.advance(60)
    refresh_due(clock)  # unchanged again: no second alert
    assert section("alice").alerts == 1
    assert Document.objects.filter(collection="alerts").count() == 1


def test_ctx_skeleton_get_reads_another_section_refreshing_it_when_stale(
    probe, alice, clock
):
    call("add_message", subject="a")
    partition = Partition("default", APP, "alice")
    spec = probe.skeleton_sections()["digest"]

    async_to_sync(refresh_section)(probe, spec, partition, clock)

    assert section("alice", "digest").value == {"inbox_unread": 1}
    # inbox had never been refreshed: the read refreshed it on demand.
    assert (section("alice").refreshes, section("alice").value["unread"]) == (1, 1)


def test_ctx_skeleton_get_is_refused_in_a_tool_call(probe, alice):
    with pytest.raises(HandlerFailed) as refused:
        call("peek_skeleton")
    assert isinstance(refused.value.exc, SkeletonAccessForbidden)
    assert "called from 'tool' context" in str(refused.value)
    assert not SkeletonSection.objects.exists()


def test_skeleton_tools_are_not_callable_as_tools(probe, alice):
    for name in ("skeleton_refresh_inbox", "skeleton_alert_inbox"):
        with pytest.raises(Exception, match=f"has no tool {name!r}"):
            prepare_tool(APP, name, "alice")
    assert not SkeletonSection.objects.exists()


def test_a_refresh_that_breaks_the_contract_is_recorded_and_stores_nothing(
    probe, alice, clock
):
    call("add_message", subject="a")
    refresh_due(clock)

    broken = section("alice", "broken")
    assert (broken.status, broken.value, broken.refreshed_at) == ("failed", None, None)
    assert "must return {'response': ...}" in broken.error
    assert '{"total": 3}' in broken.error
    huge = section("alice", "huge")
    assert (huge.status, huge.value) == ("failed", None)
    assert f"at most {VALUE_MAX_BYTES} (VALUE_MAX_BYTES)" in huge.error
    # A failing section waits for its TTL like any other, and leaves the rest alone.
    assert broken.due_at == START + datetime.timedelta(seconds=60)
    assert section("alice").status == "success"


def test_a_refresh_returning_an_action_result_keeps_its_data(probe, alice, clock):
    call("add_message", subject="a")
    refresh_due(clock)

    actions = section("alice", "actions")
    assert (actions.status, actions.error) == ("success", "")
    assert (actions.value, actions.refreshed_at) == ({"unread": 1}, START)

    call("add_message", subject="b")
    clock.advance(60)
    refresh_due(clock)
    assert section("alice", "actions").value == {"unread": 2}


def test_an_action_result_error_is_a_failed_refresh_that_stores_nothing(
    probe, alice, clock
):
    call("add_message", subject="a")
    refresh_due(clock)

    refused = section("alice", "refused")
    assert (refused.status, refused.value, refused.refreshed_at) == (
        "failed",
        None,
        None,
    )
    assert "status 'error': the upstream mailbox answered 503" in refused.error
    assert "RefreshReturnedError" in refused.error


def test_an_action_results_dict_form_still_breaks_the_plain_contract(
    probe, alice, clock
):
    call("add_message", subject="a")
    refresh_due(clock)

    lookalike = section("alice", "lookalike")
    assert (lookalike.status, lookalike.value) == ("failed", None)
    assert "must return {'response': ...}" in lookalike.error


def test_a_section_being_refreshed_elsewhere_is_left_to_that_refresh(
    probe, alice, clock
):
    call("add_message", subject="a")
    refresh_due(clock)
    clock.advance(60)
    held_until = clock.now + datetime.timedelta(seconds=LEASE_GRACE_SECONDS)
    SkeletonSection.objects.filter(section="inbox").update(lease_until=held_until)

    refresh_due(clock)

    row = section("alice")
    assert (row.refreshes, row.lease_until, row.refreshed_at) == (1, held_until, START)


def test_a_disabled_extension_is_not_refreshed(probe, alice, clock):
    call("add_message", subject="a")
    row = ExtensionRow.objects.get(app_id=APP)
    row.enabled = False
    row.save()

    assert refresh_due(clock) == {}
    assert not SkeletonSection.objects.filter(refreshes__gt=0).exists()


def test_operators_see_each_sections_value_and_last_refresh(
    probe, alice, clock, admin_client
):
    call("add_message", subject="a")
    refresh_due(clock)
    listing = admin_client.get("/admin/extensions/skeletonsection/")
    assert listing.status_code == 200
    assert b"inbox" in listing.content and b"alice" in listing.content
    detail = admin_client.get(
        f"/admin/extensions/skeletonsection/{section('alice').pk}/change/"
    )
    assert detail.status_code == 200
    assert b"&quot;unread&quot;: 1" in detail.content
