"""The kernel Context: system identity, as_user, ScopedUserId, cache availability."""

import logging

import pytest
from asgiref.sync import async_to_sync
from prometheus_client import REGISTRY

from apps.accounts.identity import PlatformUserContext, system_user_context
from apps.accounts.models import SecurityEvent
from apps.extensions.context import (
    PROGRESS_MESSAGE_MAX_CHARS,
    PlatformContext,
    ScopedUserId,
    build_context,
)
from apps.extensions.invocation import (
    prepare_schedule,
    prepare_tool,
    run_schedule_handler,
)
from apps.notifications.models import Notification


@pytest.fixture
def probe(use_extensions):
    return use_extensions("tests.fixtures.extensions.probe").get("probe").ext


def fire(app, name):
    handler, ctx = prepare_schedule(app, name)
    return async_to_sync(run_schedule_handler)(app, name, handler, ctx)


def threat_count(kind):
    value = REGISTRY.get_sample_value(
        "imperal_store_threat_total", {"kind": kind, "app_id": "probe"}
    )
    return value or 0


@pytest.mark.django_db
def test_a_schedule_runs_as_system_and_can_scope_to_a_user(probe):
    outcome = fire("probe", "observe")
    assert outcome.status == "success", outcome.error
    assert outcome.result == {
        "system_user": "__system__",
        "scoped_user": "u1",
        "scoped_id": "u1",
        "scoped_from": "__system__",
        "scoped_extension": "probe",
        "scoped_tenant": "default",
        "scoped_agency": None,
    }
    assert outcome.users_fanned_out == 1  # a count: a fire keeps no id list
    assert list(Notification.objects.values_list("user_id", "app_id")) == [
        ("u1", "probe")
    ]


@pytest.mark.django_db
def test_a_failing_schedule_is_reported_with_its_traceback(probe):
    outcome = fire("probe", "fails")
    assert outcome.status == "failed"
    assert outcome.error == "RuntimeError: schedule blew up"
    assert "Traceback" in outcome.traceback


@pytest.mark.django_db(transaction=True)
def test_as_user_from_a_user_context_raises_and_is_recorded(probe, alice):
    before = threat_count("as_user_from_user_context")
    result = async_to_sync(
        prepare_tool("probe", "try_as_user", "alice", {"target": "bob"}).run
    )()
    assert result["raised"] == "RuntimeError"
    assert "requires system context" in result["message"]
    event = SecurityEvent.objects.get()
    assert (event.kind, event.user_id, event.app_id) == (
        "as_user_from_user_context",
        "alice",
        "probe",
    )
    assert event.detail == {"target": "bob"}
    assert threat_count("as_user_from_user_context") == before + 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "target, rule",
    [
        ("", "a user id is a string of 1-128 characters"),
        (None, "a user id is a string of 1-128 characters"),
        ("__system__", "is a platform identity, not a user"),
        ("__webhook__", "is a platform identity, not a user"),
    ],
)
def test_as_user_refuses_an_empty_or_system_target(probe, target, rule):
    ctx = build_context(probe, system_user_context())
    with pytest.raises(ValueError, match=rule):
        ctx.as_user(target)
    assert ctx._fanned_out_users == frozenset()


@pytest.mark.django_db
def test_as_user_keeps_extension_tenant_and_agency(probe):
    system = PlatformUserContext(
        imperal_id="__system__",
        email="",
        tenant_id="acme",
        agency_id="agency-7",
        role="system",
    )
    ctx = build_context(probe, system)
    scoped = ctx.as_user("u9")
    assert scoped.user.imperal_id == "u9"
    assert scoped.user.id == "u9"
    assert scoped.user.tenant_id == "acme"
    assert scoped.tenant.tenant_id == "acme"
    assert scoped.agency_id == "agency-7"
    assert scoped.user.agency_id == "agency-7"
    assert scoped._extension is probe
    assert scoped._extension_id == "probe"
    assert scoped.user.attributes["scoped_from"] == "__system__"
    assert scoped._partition.user_id == "u9"
    # The system context itself is untouched.
    assert ctx.user.imperal_id == "__system__"
    assert "scoped_from" not in ctx.user.attributes


@pytest.mark.django_db
def test_a_scoped_context_cannot_scope_again(probe):
    scoped = build_context(probe, system_user_context()).as_user("u1")
    before = threat_count("as_user_from_user_context")
    with pytest.raises(
        RuntimeError,
        match=r"ctx\.as_user\(\) requires system context \(got user 'u1'\)",
    ):
        scoped.as_user("u2")
    event = SecurityEvent.objects.get()
    assert (event.kind, event.user_id, event.app_id, event.detail) == (
        "as_user_from_user_context",
        "u1",
        "probe",
        {"target": "u2"},
    )
    assert threat_count("as_user_from_user_context") == before + 1
    assert scoped._fanned_out_users == frozenset({"u1"})


@pytest.mark.django_db
def test_scoped_user_id_serves_both_fan_out_loops(probe):
    ctx = build_context(probe, system_user_context())
    uid = ScopedUserId("u5", ctx)
    assert uid == "u5" and isinstance(uid, str)
    assert ctx._fanned_out_users == frozenset()  # nothing is built until used
    assert (
        uid.user.imperal_id == "u5"
    )  # the seed's loop: user_ctx.store / .notify / .user
    assert ctx.as_user(uid).user.imperal_id == "u5"  # the SDK's loop: ctx.as_user(uid)
    assert ctx._fanned_out_users == frozenset({"u5"})
    async_to_sync(uid.notify)("hello from the seed loop")
    assert Notification.objects.get().user_id == "u5"


def test_a_context_without_a_cache_backend_raises_on_cache():
    ctx = PlatformContext(
        user=PlatformUserContext(
            imperal_id="u1", email="", tenant_id="default", role="user"
        )
    )
    with pytest.raises(RuntimeError, match="without a cache backend"):
        _ = ctx.cache


@pytest.mark.django_db
def test_time_comes_from_the_injected_clock(probe, alice):
    import datetime

    fixed = datetime.datetime(2026, 3, 4, 10, 30, tzinfo=datetime.UTC)
    ctx = build_context(probe, system_user_context(), clock=lambda: fixed)
    assert ctx.time.now_utc == "2026-03-04T10:30:00+00:00"
    assert ctx.time.hour_local == 10
    assert ctx.time.is_business_hours is True


def test_progress_takes_a_number_and_refuses_anything_else(probe):
    ctx = build_context(probe, system_user_context()).as_user("u1")
    async_to_sync(ctx.progress)(25, "a quarter")
    for bad in ("half", None, False):
        with pytest.raises(TypeError, match="ctx.progress: percent must be a number"):
            async_to_sync(ctx.progress)(bad)


def test_a_200_kb_progress_message_is_logged_clipped_on_one_line(probe, caplog):
    caplog.set_level(logging.INFO, logger="apps.extensions.context")
    ctx = build_context(probe, system_user_context())

    message = "line one\nforged: ok " + "x" * 200_000
    async_to_sync(ctx.progress)(10, message)

    (record,) = [r for r in caplog.records if r.getMessage().startswith("progress")]
    line = record.getMessage()
    assert len(line) <= len("progress 10% ") + PROGRESS_MESSAGE_MAX_CHARS
    assert "\n" not in line and "line one\\nforged: ok" in line
    assert line.endswith(f"…({len(message) + 1} chars)")  # "\n" became 2 characters


def test_every_progress_callback_gets_the_bounded_message(probe):
    received = []

    async def callback(percent, message):
        received.append((percent, message))

    ctx = build_context(probe, system_user_context(), progress=callback)
    async_to_sync(ctx.progress)(50, "y" * 100_000)
    async_to_sync(ctx.as_user("u1").progress)(60, "short")

    assert [percent for percent, _ in received] == [50, 60]
    assert len(received[0][1]) == PROGRESS_MESSAGE_MAX_CHARS
    assert received[0][1].endswith("…(100000 chars)")
    assert received[1][1] == "short"
