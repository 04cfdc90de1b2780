"""The console's schedules page: cron in words, next fire, the beat switch, "Run now"."""

import datetime

import pytest
from django.urls import reverse
from django_celery_beat.models import PeriodicTask

from apps.api.models import OperatorAction
from apps.extensions.models import Extension
from apps.extensions.sync import sync_extensions
from apps.scheduler.models import Schedule, ScheduleRun

pytestmark = pytest.mark.django_db(transaction=True)
PROBE = "tests.fixtures.extensions.probe"
PAGE = reverse("console:schedules")


@pytest.fixture
def probe(use_extensions):
    sync_extensions(use_extensions(PROBE))


def run_url(name):
    return reverse("console:schedule-run", args=["probe", name])


def test_the_page_lists_each_schedule_with_cron_in_words_and_next_fire(
    admin_client, probe
):
    page = admin_client.get(PAGE).content.decode()
    assert "probe:observe" in page and "probe:fails" in page
    assert "Every 5 minutes UTC" in page
    assert "Every hour UTC" in page
    observe = Schedule.objects.get(app_id="probe", name="observe")
    assert observe.enabled
    assert "Next fire:" in page and " UTC</span>" in page


def test_run_now_fires_through_ext_fire_s_path_and_redirects_to_its_run(
    admin_client, probe
):
    answer = admin_client.post(run_url("observe"))
    run = ScheduleRun.objects.get(app_id="probe", schedule="observe")
    assert answer.status_code == 302
    assert answer.url == reverse("admin:scheduler_schedulerun_change", args=[run.pk])
    assert (run.status, run.trigger, run.users_fanned_out) == ("success", "manual", 1)
    assert run.slot.startswith("manual:")
    detail = admin_client.get(answer.url).content.decode()
    assert "success" in detail and "Save" not in detail and "Delete" not in detail


def test_a_failed_run_shows_its_error_and_a_humane_duration(admin_client, probe):
    admin_client.post(run_url("fails"))
    run = ScheduleRun.objects.get(app_id="probe", schedule="fails")
    assert run.status == "failed"
    page = admin_client.get(PAGE).content.decode()
    assert "schedule blew up" in page
    assert " ms</td>" in page or " s</td>" in page
    assert str(run.duration_ms) not in page


def test_run_now_of_a_disabled_extension_leaves_a_refused_run(admin_client, probe):
    Extension.objects.filter(app_id="probe").update(enabled=False)
    answer = admin_client.post(run_url("observe"))
    run = ScheduleRun.objects.get(app_id="probe", schedule="observe")
    assert run.status == "skipped-disabled"
    assert answer.url == reverse("admin:scheduler_schedulerun_change", args=[run.pk])


def test_run_now_is_post_only_and_404s_an_unknown_schedule(admin_client, probe):
    assert admin_client.get(run_url("observe")).status_code == 405
    assert admin_client.post(run_url("nope")).status_code == 404
    assert not ScheduleRun.objects.exists()


def test_run_now_of_a_schedule_the_registry_lost_is_refused_and_records_nothing(
    admin_client, probe
):
    # A row left from an earlier deployment: the extension no longer declares it.
    Schedule.objects.create(app_id="probe", name="gone", cron="0 * * * *")
    answer = admin_client.post(run_url("gone"), follow=True)
    assert answer.redirect_chain == [(PAGE, 302)]
    page = answer.content.decode()
    assert "Did not run probe:gone: extension &#x27;probe&#x27; has no schedule" in page
    assert not ScheduleRun.objects.exists()


def test_the_switch_disables_and_enables_the_beat_entry(admin_client, probe):
    url = reverse("console:schedule-switch", args=["probe", "observe"])
    admin_client.post(url, {"enabled": "0"})
    assert not PeriodicTask.objects.get(imperal_schedule__name="observe").enabled
    page = admin_client.get(PAGE).content.decode()
    assert 'Next fire: <span class="ops-next">none' in page
    admin_client.post(url, {"enabled": "1"})
    assert PeriodicTask.objects.get(imperal_schedule__name="observe").enabled


def test_the_switch_refuses_a_bad_value_and_changes_nothing(admin_client, probe):
    url = reverse("console:schedule-switch", args=["probe", "observe"])
    answer = admin_client.post(url, {"enabled": "maybe"})
    assert answer.status_code == 400
    assert 'enabled must be "0" or "1"' in answer.content.decode()
    assert "'maybe'" in answer.content.decode()
    assert PeriodicTask.objects.get(imperal_schedule__name="observe").enabled


def test_model_permissions_gate_viewing_running_and_switching(operator, probe):
    client = operator("viewer", "scheduler.view_schedule")
    page = client.get(PAGE)
    assert page.status_code == 200
    assert "Run now</button>" not in page.content.decode()
    assert client.post(run_url("observe")).status_code == 403
    switch = reverse("console:schedule-switch", args=["probe", "observe"])
    assert client.post(switch, {"enabled": "0"}).status_code == 403
    assert not ScheduleRun.objects.exists()
    assert PeriodicTask.objects.get(imperal_schedule__name="observe").enabled


def test_staff_without_view_permission_is_refused_and_non_staff_sent_to_login(
    operator, probe
):
    assert operator("s").get(PAGE).status_code == 403
    answer = operator("u", "scheduler.view_schedule", staff=False).get(PAGE)
    assert answer.status_code == 302 and "/admin/login/" in answer.url


def test_the_schedule_changelist_leads_to_the_page_and_beat_models_are_hidden(
    admin_client, probe
):
    answer = admin_client.get(reverse("admin:scheduler_schedule_changelist"))
    assert (answer.status_code, answer.url) == (302, PAGE)
    index = admin_client.get(reverse("admin:index")).content.decode()
    for hidden in (
        "Clocked",
        "Solar events",
        "Intervals",
        "Crontabs",
        "Periodic tasks",
    ):
        assert hidden not in index
    assert (
        admin_client.get("/admin/django_celery_beat/periodictask/").status_code == 404
    )


def test_next_fire_is_the_next_cron_match_after_now(probe):
    from apps.console.schedules import next_fire

    observe = Schedule.objects.select_related("periodic_task").get(name="observe")
    now = datetime.datetime(2026, 12, 1, 10, 7, 30, tzinfo=datetime.UTC)
    assert next_fire(observe, now) == now.replace(minute=10, second=0)


def test_a_schedules_own_page_shows_cron_in_words_and_cannot_be_deleted(
    admin_client, probe
):
    observe = Schedule.objects.get(app_id="probe", name="observe")
    url = reverse("admin:scheduler_schedule_change", args=[observe.pk])
    shown = admin_client.get(url).content.decode()
    assert "Every 5 minutes UTC" in shown
    assert 'name="timeout_seconds"' in shown and "deletelink" not in shown
    delete = reverse("admin:scheduler_schedule_delete", args=[observe.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert Schedule.objects.filter(pk=observe.pk).exists()


def test_run_now_is_attributed_on_the_run_and_in_operator_actions(admin_client, probe):
    admin_client.post(run_url("observe"))
    run = ScheduleRun.objects.get(app_id="probe", schedule="observe")
    assert run.triggered_by == "admin"
    action = OperatorAction.objects.get(action="run-now")
    assert (action.operator, action.app_id, action.user_id) == ("admin", "probe", "")
    assert action.detail == {"schedule": "observe", "run": run.pk, "status": "success"}
    page = admin_client.get(
        reverse("admin:scheduler_schedulerun_change", args=[run.pk])
    ).content.decode()
    assert "Triggered by" in page and ">admin<" in page
    assert "inline-group" not in page  # unsharded: no empty table of shard runs
    assert "<td>manual by admin</td>" in admin_client.get(PAGE).content.decode()


def test_a_switch_is_attributed_only_when_it_changes_the_state(admin_client, probe):
    url = reverse("console:schedule-switch", args=["probe", "observe"])
    admin_client.post(url, {"enabled": "1"})  # already on: nothing changes
    assert not OperatorAction.objects.exists()
    admin_client.post(url, {"enabled": "0"})
    action = OperatorAction.objects.get(action="switch")
    assert (action.operator, action.app_id) == ("admin", "probe")
    assert action.detail == {"schedule": "observe", "enabled": False}


def test_the_extension_switch_in_the_admin_is_attributed(admin_client, probe):
    row = Extension.objects.get(app_id="probe")
    url = reverse("admin:extensions_extension_change", args=[row.pk])
    answer = admin_client.post(url, {"enabled": ""})
    assert answer.status_code == 302
    assert not Extension.objects.get(app_id="probe").enabled
    action = OperatorAction.objects.get(action="switch")
    assert (action.operator, action.app_id, action.detail) == (
        "admin",
        "probe",
        {"enabled": False},
    )
    admin_client.post(url, {"enabled": ""})  # saved unchanged: no new record
    assert OperatorAction.objects.count() == 1
