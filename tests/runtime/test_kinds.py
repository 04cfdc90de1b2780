"""Every kind of call runs where its extension runs: hooks, schedules, webhooks,
skeleton refreshes and health checks, in-process and isolated alike."""

import datetime
import os

import pytest
from asgiref.sync import async_to_sync

from apps.extensions.health import run_health_checks
from apps.extensions.invocation import prepare_tool
from apps.extensions.models import LifecycleRun, SkeletonSection
from apps.extensions.skeleton import refresh_due
from apps.extensions.sync import sync_extensions
from apps.extensions.webhooks import serve_webhook
from apps.notifications.models import Notification
from apps.scheduler.fire import fire_now
from apps.scheduler.models import ScheduleRun
from apps.store.models import Document

from .conftest import APP

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
BOTH = pytest.mark.parametrize("runtime", ["in-process", "isolated"], indirect=True)


def call(name, user="alice", **params):
    return async_to_sync(prepare_tool(APP, name, user, params).run)()


def docs(user, collection):
    return Document.objects.in_partition("default", APP, user).filter(
        collection=collection
    )


def ran_here(runtime, pid):
    """Assert the handler ran in this process exactly when the runtime is in-process."""
    assert (pid == os.getpid()) == (runtime == "in-process")


@BOTH
def test_on_install_runs_where_the_extension_runs(runtime, alice):
    call("remember", title="first")
    call("remember", title="second")
    installs = list(docs("alice", "installs"))
    assert len(installs) == 1
    ran_here(runtime, installs[0].data["pid"])
    run = LifecycleRun.objects.get(app_id=APP, hook="on_install", user_id="alice")
    assert run.status == "success"
    assert run.result == {"welcome": "alice"}


@BOTH
def test_a_schedule_fans_out_to_every_user_with_list_users(runtime, alice, bob):
    sync_extensions()
    call("remember", "alice", title="a", times=2)
    call("remember", "bob", title="b")
    run = fire_now(APP, "digest", local=True)
    assert run.status == ScheduleRun.Status.SUCCESS, run.error
    assert run.result == {"sent": 2}
    assert run.users_fanned_out == 2
    digests = Notification.objects.filter(app_id=APP, message__endswith=" notes")
    assert sorted((n.user_id, n.message) for n in digests) == [
        ("alice", "2 notes"),
        ("bob", "1 notes"),
    ]


@BOTH
def test_a_webhook_acts_for_the_user_it_names(runtime, alice):
    sync_extensions()
    response = serve_webhook(
        APP,
        "inbound",
        "POST",
        {"Content-Type": "text/plain"},
        lambda: b"ping",
        {"uid": "alice"},
    )
    assert response.status == 200
    assert [d.data for d in docs("alice", "inbox")] == [{"body": "ping"}]


@BOTH
def test_a_skeleton_section_is_refreshed_where_the_extension_runs(runtime, alice):
    sync_extensions()
    call("remember", title="a", times=3)
    refresh_due(lambda: datetime.datetime.now(datetime.UTC))
    section = SkeletonSection.objects.get(app_id=APP, user_id="alice", section="notes")
    assert section.value == {"count": 3}, section.error


@BOTH
def test_the_health_check_runs_where_the_extension_runs(runtime):
    sync_extensions()
    assert run_health_checks()[APP] == "ok"
