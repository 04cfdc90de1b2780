"""manage.py ext / sync_extensions / user_token: JSON out, one-line errors."""

import io
import json
import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from apps.accounts.models import ApiToken, User, hash_token
from apps.extensions.models import Extension as ExtensionRow
from apps.notifications.models import Notification

pytestmark = pytest.mark.django_db
PROBE = "tests.fixtures.extensions.probe"


def run(*args):
    out = io.StringIO()
    call_command(*args, stdout=out)
    return json.loads(out.getvalue())


def test_ext_list_shows_the_samples_tools_panels_and_schedules():
    listing = {e["app_id"]: e for e in run("ext", "list")["extensions"]}
    my_app = listing["my-app"]
    tools = {t["name"] for t in my_app["tools"]}
    assert {
        "get_resource_summary",
        "save_contact",
        "list_active_monitors",
        "fetch_spend_report",
    } <= tools
    assert [p["panel_id"] for p in my_app["panels"]] == ["dashboard"]
    assert my_app["schedules"] == [{"name": "daily_digest", "cron": "0 8 * * *"}]
    assert "resource_summary" in my_app["cache_models"]
    save = next(t for t in my_app["tools"] if t["name"] == "save_contact")
    assert save["params"]["required"] == ["email", "name"]
    assert "contacts" in listing


def test_ext_call_prints_the_tools_json(alice):
    assert (
        run("ext", "call", "my-app", "whoami", "--user", "alice")["imperal_id"]
        == "alice"
    )
    result = run(
        "ext",
        "call",
        "my-app",
        "notify_me",
        "--user",
        "alice",
        "--params",
        '{"message": "hi", "priority": "high"}',
    )
    assert result == {"status": "success", "to": "alice", "priority": "high"}
    assert Notification.objects.get().priority == "high"


@pytest.mark.parametrize(
    "params, fragment",
    [
        ('{"priority": "high"}', "param 'message': missing"),
        ('{"message": 1}', "param 'message': Input should be a valid string"),
        ('{"message": "x", "loud": true}', "param 'loud': unknown param"),
        ("{not json", "--params is not valid JSON"),
    ],
)
def test_ext_call_refuses_bad_params_and_the_tool_never_runs(alice, params, fragment):
    with pytest.raises(CommandError, match=fragment) as caught:
        run("ext", "call", "my-app", "notify_me", "--user", "alice", "--params", params)
    assert caught.value.returncode == 2
    assert Notification.objects.count() == 0


def test_ext_call_refuses_unknown_app_tool_and_user(alice):
    with pytest.raises(CommandError, match="unknown extension 'nope'"):
        run("ext", "call", "nope", "whoami", "--user", "alice")
    with pytest.raises(CommandError, match="has no tool 'nope'"):
        run("ext", "call", "my-app", "nope", "--user", "alice")
    with pytest.raises(CommandError, match="unknown user 'ghost'"):
        run("ext", "call", "my-app", "whoami", "--user", "ghost")


def test_ext_fire_runs_the_schedule_in_system_context(use_extensions):
    use_extensions(PROBE)
    run_record = run("ext", "fire", "probe", "observe")
    assert run_record["status"] == "success"
    assert run_record["result"]["system_user"] == "__system__"
    assert run_record["result"]["scoped_from"] == "__system__"
    assert run_record["users_fanned_out"] == 1


def test_ext_fire_of_a_failing_schedule_exits_non_zero(use_extensions):
    use_extensions(PROBE)
    with pytest.raises(CommandError, match="schedule probe.fails failed: RuntimeError"):
        run("ext", "fire", "probe", "fails")


def test_ext_fire_of_a_disabled_extension_is_refused_and_recorded(use_extensions):
    from apps.scheduler.models import ScheduleRun

    use_extensions(PROBE)
    run("sync_extensions")
    ExtensionRow.objects.filter(app_id="probe").update(enabled=False)
    with pytest.raises(CommandError, match="skipped-disabled: extension 'probe' is"):
        run("ext", "fire", "probe", "observe")
    refused = ScheduleRun.objects.get(app_id="probe", schedule="observe")
    assert (refused.status, refused.trigger) == ("skipped-disabled", "manual")
    assert Notification.objects.filter(app_id="probe").count() == 0
    with pytest.raises(CommandError, match="unknown extension 'nowhere'"):
        run("ext", "fire", "nowhere", "nope")
    assert not ScheduleRun.objects.filter(schedule="nope").exists()


def test_ext_list_with_a_broken_entry_still_lists_the_others(use_extensions):
    use_extensions("tests.fixtures.extensions.broken_import", PROBE)
    out = io.StringIO()
    with pytest.raises(CommandError, match="broken_import") as caught:
        call_command("ext", "list", stdout=out)
    assert caught.value.returncode == 1
    listing = json.loads(out.getvalue())
    assert [e["app_id"] for e in listing["extensions"]] == ["probe"]
    assert "tests.fixtures.extensions.broken_import" in listing["errors"][0]


def test_sync_extensions_mirrors_the_registry_and_keeps_the_operator_switch(
    use_extensions,
):
    use_extensions(PROBE)
    run("sync_extensions")
    row = ExtensionRow.objects.get(app_id="probe")
    assert (row.version, row.loaded, row.enabled) == ("2.0.0", True, True)
    assert {s["name"] for s in row.schedules} == {"observe", "fails"}
    ExtensionRow.objects.filter(app_id="probe").update(enabled=False)
    use_extensions("tests/fixtures/extensions/dir_ext")
    summary = run("sync_extensions")
    assert summary["missing"] == ["probe"]
    row.refresh_from_db()
    assert (row.loaded, row.enabled) == (False, False)
    use_extensions(PROBE)
    run("sync_extensions")
    row.refresh_from_db()
    assert (row.loaded, row.enabled) == (True, False)


def test_user_token_creates_the_user_and_stores_only_a_hash():
    printed = run("user_token", "dora")
    user = User.objects.get(imperal_id="dora")
    assert printed["created"] is True
    token = ApiToken.objects.get(user=user)
    assert token.token_hash == hash_token(printed["token"])
    assert printed["token"] not in (token.token_hash, token.display_prefix)
    again = run("user_token", "dora")
    assert again["created"] is False and again["token"] != printed["token"]


def test_user_token_refuses_the_system_identity():
    with pytest.raises(CommandError, match="__system__"):
        run("user_token", "__system__")
    assert not User.objects.exists()


@pytest.mark.embedded_default
def test_a_real_process_exits_non_zero_with_one_line_naming_the_param(tmp_path):
    env = {**os.environ, "IMPERAL_VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": ""}
    env.pop("DJANGO_SETTINGS_MODULE")
    for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"):
        env.pop(name, None)
    manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=env, check=True)
    subprocess.run(
        [*manage, "user_token", "alice"], env=env, check=True, capture_output=True
    )
    done = subprocess.run(
        [
            *manage,
            "ext",
            "call",
            "my-app",
            "notify_me",
            "--user",
            "alice",
            "--params",
            '{"message": "hi", "priority": 3}',
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        "CommandError: invalid params for my-app.notify_me: param 'priority': "
        "Input should be a valid string (got 3)"
    ]
