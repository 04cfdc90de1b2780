"""The operators' "run now": the same fire as ``ext fire``, and its refusals on record."""

from django.core.management import call_command

from apps.api.models import OperatorAction
from apps.extensions.models import Extension as ExtensionRow
from apps.scheduler.models import ScheduleRun

from .conftest import error_of

RUN_NOW = "/api/v1/operator/schedules/{app}/{name}/run"


def test_run_now_answers_the_finished_run(make_operator):
    _, olga = make_operator("olga", "scheduler.add_schedulerun")
    answer = olga.post(RUN_NOW.format(app="probe", name="observe"))
    assert answer.status_code == 200, answer.content[:300]
    run = answer.json()
    assert (run["status"], run["trigger"]) == ("success", "manual")
    assert run["triggered_by"] == "olga"
    stored = ScheduleRun.objects.get(pk=run["id"])
    assert (stored.status, stored.triggered_by) == ("success", "olga")
    action = OperatorAction.objects.get(action="run-now")
    assert (action.operator, action.app_id) == ("olga", "probe")
    assert action.detail == {
        "schedule": "observe",
        "run": run["id"],
        "status": "success",
    }


def test_run_now_of_a_disabled_extension_is_409_and_on_record(make_operator):
    _, olga = make_operator("olga", "scheduler.add_schedulerun")
    call_command("sync_extensions", verbosity=0)
    ExtensionRow.objects.filter(app_id="probe").update(enabled=False)
    answer = olga.post(RUN_NOW.format(app="probe", name="observe"))
    assert error_of(answer, 409)["code"] == "extension_disabled"
    refused = ScheduleRun.objects.get(app_id="probe", schedule="observe")
    assert refused.status == "skipped-disabled"


def test_run_now_of_an_unknown_schedule_is_404_with_nothing_recorded(make_operator):
    _, olga = make_operator("olga", "scheduler.add_schedulerun")
    answer = olga.post(RUN_NOW.format(app="probe", name="nope"))
    assert error_of(answer, 404)["code"] == "not_found"
    assert not ScheduleRun.objects.exists()
    assert not OperatorAction.objects.exists()
