"""The schedules page in a real browser: press "Run now" and land on its run."""

import re

import pytest
from playwright.sync_api import expect

from apps.extensions.sync import sync_extensions
from apps.scheduler.models import ScheduleRun

from .conftest import E2E_EXTENSIONS

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def schedules(use_extensions):
    """The server's extensions mirrored into the shared database (Schedule rows)."""
    sync_extensions(use_extensions(*E2E_EXTENSIONS))


def open_schedules(page):
    page.goto("/admin/console/schedules/")
    expect(page.locator("h1")).to_have_text("Schedules")
    return page


def test_run_now_fires_the_schedule_and_shows_its_run(
    operator_page, schedules, screenshot
):
    page = open_schedules(operator_page)
    observe = page.locator('section[data-schedule="probe:observe"]')
    expect(observe).to_contain_text("Every 5 minutes UTC")
    expect(observe.locator(".ops-next")).to_have_text(re.compile(r"\d{4}-\d\d-\d\d "))
    expect(observe).to_contain_text("No run yet.")
    screenshot(page, "schedules")

    observe.get_by_role("button", name="Run now").click()
    run = ScheduleRun.objects.get(app_id="probe", schedule="observe")
    expect(page).to_have_url(
        re.compile(rf"/admin/scheduler/schedulerun/{run.pk}/change/$")
    )
    expect(page.locator(".messagelist")).to_contain_text(
        "Ran probe:observe now: success"
    )
    expect(page.locator(".field-status")).to_contain_text("success")
    expect(page.locator(".field-users_fanned_out")).to_contain_text("1")
    expect(page.locator('input[name="_save"]')).to_have_count(0)
    expect(page.locator("a.deletelink")).to_have_count(0)
    screenshot(page, "schedule-run")

    open_schedules(page)
    row = page.locator('section[data-schedule="probe:observe"] tbody tr').first
    expect(row).to_contain_text("manual")
    expect(row).to_contain_text("success")
    expect(row).to_contain_text(re.compile(r"\d+(\.\d)? (ms|s)"))


def test_a_failing_schedule_run_shows_its_error(operator_page, schedules):
    page = open_schedules(operator_page)
    page.locator('section[data-schedule="probe:fails"]').get_by_role(
        "button", name="Run now"
    ).click()
    expect(page.locator(".field-status")).to_contain_text("failed")
    expect(page.locator(".field-error")).to_contain_text("schedule blew up")


def test_run_now_and_the_switch_work_with_javascript_off(
    new_page, login, operator, schedules, screenshot
):
    page = open_schedules(login(new_page(java_script_enabled=False), operator))
    observe = page.locator('section[data-schedule="probe:observe"]')
    observe.get_by_role("button", name="Disable").click()
    observe = page.locator('section[data-schedule="probe:observe"]')
    expect(observe.locator(".ops-state-off")).to_have_text("disabled")
    expect(observe.locator(".ops-next")).to_have_text("none")
    observe.get_by_role("button", name="Enable").click()
    expect(
        page.locator('section[data-schedule="probe:observe"] .ops-state-on')
    ).to_have_text("enabled")
    page.locator('section[data-schedule="probe:observe"]').get_by_role(
        "button", name="Run now"
    ).click()
    expect(page.locator(".field-status")).to_contain_text("success")
    screenshot(page, "schedule-run-no-js")
