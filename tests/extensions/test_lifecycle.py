"""Lifecycle hooks fire exactly once per trigger; a raising hook is recorded and the
action that triggered it still happens."""

import datetime

import pytest
from asgiref.sync import async_to_sync
from django_celery_beat.models import PeriodicTask
from imperal_sdk.types.health import HealthStatus

from apps.accounts.partition import Partition
from apps.common.timestamps import rfc3339
from apps.extensions.errors import InvalidParams
from apps.extensions.health import health_results, run_health_checks
from apps.extensions.installation import claim_installation
from apps.extensions.invocation import prepare_tool
from apps.extensions.lifecycle import run_uninstall
from apps.extensions.models import Extension as ExtensionRow
from apps.extensions.models import ExtensionHealth, Installation, LifecycleRun
from apps.extensions.sync import sync_extensions
from apps.store.models import Document
from tests.fixtures.extensions import lifecycle_probe

pytestmark = pytest.mark.django_db

APP = "lifecycle-probe"
RAISING = "lifecycle-raising"
NOW = datetime.datetime(2026, 3, 1, 9, 0, tzinfo=datetime.UTC)


@pytest.fixture
def registry(use_extensions):
    registry = use_extensions(
        "tests.fixtures.extensions.lifecycle_probe",
        "tests.fixtures.extensions.lifecycle_raising",
    )
    sync_extensions()
    return registry


def ping(app=APP, user="alice", **params):
    return async_to_sync(prepare_tool(app, "ping", user, params).run)()


def runs(hook, app=APP, **filters):
    return LifecycleRun.objects.filter(app_id=app, hook=hook, **filters)


def marks(hook, user=None):
    docs = Document.objects.filter(app_id=APP, collection="hook_runs")
    if user is not None:
        docs = docs.filter(user_id=user)
    return [d.data for d in docs if d.data["hook"] == hook]


def switch(app, enabled, capture, by="ops"):
    row = ExtensionRow.objects.get(app_id=app)
    row.enabled = enabled
    row.switched_by = by
    with capture(execute=True):
        row.save()


def test_on_install_runs_once_on_a_users_first_use(registry, alice, bob):
    assert ping() == {"pong": "alice"}
    ping()
    ping(user="bob")

    assert [(r.user_id, r.status) for r in runs("on_install").order_by("id")] == [
        ("alice", "success"),
        ("bob", "success"),
    ]
    assert marks("on_install", "alice") == [
        {"hook": "on_install", "user": "alice", "tool_type": "lifecycle"}
    ]
    assert runs("on_install", user_id="alice").get().result == {"welcome": "alice"}
    assert Installation.objects.filter(app_id=APP).count() == 2


def test_a_refused_first_call_is_not_a_use(registry, alice):
    with pytest.raises(InvalidParams):
        prepare_tool(APP, "ping", "alice", {"unknown": 1})
    assert not Installation.objects.exists()
    assert not runs("on_install").exists()


def test_an_installation_is_claimed_by_exactly_one_caller(registry):
    partition = Partition("default", APP, "alice")
    assert [claim_installation(partition) for _ in range(3)] == [True, False, False]
    assert Installation.objects.count() == 1


def test_on_uninstall_runs_before_the_erase_and_a_later_use_installs_again(
    registry, alice
):
    ping()
    run = run_uninstall(APP, "alice", "default", actor="erase by alice")

    assert (run.hook, run.status, run.actor, run.user_id) == (
        "on_uninstall",
        "success",
        "erase by alice",
        "alice",
    )
    assert marks("on_uninstall", "alice") == [{"hook": "on_uninstall", "user": "alice"}]
    assert not Installation.objects.exists()
    ping()
    assert runs("on_install", user_id="alice").count() == 2


def test_on_enable_and_on_disable_run_once_per_switch(
    registry, django_capture_on_commit_callbacks
):
    switch(APP, False, django_capture_on_commit_callbacks)
    switch(APP, False, django_capture_on_commit_callbacks)  # no change: no hook
    switch(APP, True, django_capture_on_commit_callbacks)

    assert [
        (r.hook, r.actor, r.user_id) for r in LifecycleRun.objects.order_by("id")
    ] == [
        ("on_disable", "ops", "__system__"),
        ("on_enable", "ops", "__system__"),
    ]
    assert len(marks("on_disable")) == len(marks("on_enable")) == 1


def test_the_admins_switch_runs_on_disable_naming_the_operator(
    registry, admin_client, django_capture_on_commit_callbacks
):
    row = ExtensionRow.objects.get(app_id=APP)
    with django_capture_on_commit_callbacks(execute=True):
        answer = admin_client.post(
            f"/admin/extensions/extension/{row.pk}/change/", {"enabled": ""}
        )
    assert answer.status_code == 302
    assert ExtensionRow.objects.get(app_id=APP).enabled is False
    assert runs("on_disable").get().actor == "admin"


def test_on_upgrade_runs_once_per_version_reached(registry, monkeypatch):
    monkeypatch.setattr(lifecycle_probe.ext, "version", "2.0.0")
    summary = sync_extensions()
    sync_extensions()  # the same version again: nothing more runs

    assert sorted(summary["upgrades"]) == [
        "lifecycle-probe on_upgrade(1.5.0): success",
        "lifecycle-probe on_upgrade(2.0.0): success",
    ]
    assert sorted(r.version for r in runs("on_upgrade")) == ["1.5.0", "2.0.0"]
    assert sorted(m["version"] for m in marks("on_upgrade")) == ["1.5.0", "2.0.0"]
    assert ExtensionRow.objects.get(app_id=APP).version == "2.0.0"


def test_health_check_runs_every_60_seconds_and_records_its_last_result(registry):
    assert run_health_checks(NOW)[APP] == "ok"
    assert APP not in run_health_checks(NOW + datetime.timedelta(seconds=30))

    lifecycle_probe.HEALTH["answer"] = HealthStatus.degraded("slow upstream")
    try:
        later = NOW + datetime.timedelta(seconds=60)
        assert run_health_checks(later)[APP] == "degraded"
    finally:
        lifecycle_probe.HEALTH["answer"] = HealthStatus.ok({"connected": True})

    row = ExtensionHealth.objects.get(app_id=APP)
    assert (row.status, row.checked_at) == ("degraded", later)
    assert row.result["message"] == "slow upstream"
    assert health_results()[APP] == {
        "status": "degraded",
        "checked_at": rfc3339(later),
        "error": "",
        "duration_ms": round(row.duration_ms, 3),
    }
    # Each change of status is kept as a lifecycle run (the first check too).
    assert [r.result for r in runs("health_check").order_by("id")] == [
        {"from": None, "to": "ok"},
        {"from": "ok", "to": "degraded"},
    ]


def test_sync_adds_the_beat_entries_of_skeletons_and_health_checks(registry):
    tasks = dict(
        PeriodicTask.objects.filter(name__startswith="imperal:").values_list(
            "name", "task"
        )
    )
    assert tasks["imperal:refresh-skeletons"] == "imperal.refresh_skeletons"
    assert tasks["imperal:health-checks"] == "imperal.run_health_checks"


def test_raising_hooks_are_recorded_and_never_block_the_action(
    registry, alice, monkeypatch, django_capture_on_commit_callbacks
):
    from tests.fixtures.extensions import lifecycle_raising

    assert ping(RAISING) == {"pong": "alice"}  # the call still runs
    switch(RAISING, False, django_capture_on_commit_callbacks)
    assert ExtensionRow.objects.get(app_id=RAISING).enabled is False
    switch(RAISING, True, django_capture_on_commit_callbacks)
    monkeypatch.setattr(lifecycle_raising.ext, "version", "2.0.0")
    sync_extensions()
    assert ExtensionRow.objects.get(app_id=RAISING).version == "2.0.0"
    run_uninstall(RAISING, "alice", "default")
    assert not Installation.objects.filter(app_id=RAISING).exists()
    assert run_health_checks(NOW)[RAISING] == "unhealthy"

    recorded = {r.hook: r for r in LifecycleRun.objects.filter(app_id=RAISING)}
    assert set(recorded) == {
        "on_install",
        "on_disable",
        "on_enable",
        "on_upgrade",
        "on_uninstall",
        "health_check",
    }
    for hook, run in recorded.items():
        assert run.status == "failed", hook
        assert run.error == f"RuntimeError: {hook} exploded"
    assert ExtensionHealth.objects.get(app_id=RAISING).error == (
        "RuntimeError: health_check exploded"
    )


def test_the_uninstall_hook_of_a_disabled_extension_is_skipped(
    registry, alice, django_capture_on_commit_callbacks
):
    ping()
    switch(APP, False, django_capture_on_commit_callbacks)
    run = run_uninstall(APP, "alice", "default")
    assert (run.status, run.error) == (
        "skipped",
        "extension is disabled by an operator",
    )
    assert marks("on_uninstall") == []
    assert not Installation.objects.exists()


def test_users_holding_data_before_the_upgrade_count_as_installed(registry, alice):
    import importlib

    from django.apps import apps
    from django.db import connection

    migration = importlib.import_module(
        "apps.extensions.migrations.0005_installations_from_stored_data"
    )
    for user in ("alice", "bob", "__system__"):
        Document.objects.create(
            tenant_id="default",
            app_id=APP,
            user_id=user,
            collection="notes",
            doc_id=f"n-{user}",
            data={},
            etag="e",
            created_at=NOW,
            updated_at=NOW,
        )

    class Editor:
        pass

    editor = Editor()
    editor.connection = connection
    migration.installations_from_documents(apps, editor)
    migration.installations_from_documents(apps, editor)  # idempotent

    assert sorted(Installation.objects.values_list("user_id", flat=True)) == [
        "alice",
        "bob",
    ]
    ping()  # alice used it before: no on_install now
    assert not runs("on_install").exists()
