"""The dashboard on the admin index, in a real browser: its sections and the chart."""

import datetime

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apps.accounts.partition import Partition
from apps.accounts.security import record_threat
from apps.scheduler.models import ScheduleRun

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def recorded(status, days_ago=0, error=""):
    started = timezone.now() - datetime.timedelta(days=days_ago, minutes=1)
    return ScheduleRun.objects.create(
        app_id="probe",
        schedule="observe",
        slot=f"{status}:{started.isoformat()}",
        status=status,
        started_at=started,
        finished_at=started,
        duration_ms=420.0,
        error=error,
    )


@pytest.fixture
def history():
    for _ in range(3):
        recorded("success")
    recorded("failed", error="RuntimeError: the mail server said no")
    recorded("timeout", days_ago=1, error="timed out after 300 s")
    recorded("skipped-duplicate", days_ago=3)
    record_threat("as_user_outside_system", Partition("default", "probe", "mallory"))


def test_the_dashboard_shows_its_sections_and_the_runs_chart(
    operator_page, history, screenshot
):
    page = operator_page
    page.goto("/admin/")  # the history was written after the login's first look
    expect(page.locator("#dashboard-documents h2")).to_have_text(
        "Documents per extension"
    )
    expect(page.locator("#dashboard-documents")).to_contain_text("probe")
    expect(page.locator("#dashboard-runs h2")).to_contain_text("(6)")
    chart = page.locator("#dashboard-runs svg.ops-chart")
    expect(chart).to_be_visible()
    # One rectangle per (day, status) that had runs: today's success and failed,
    # yesterday's timeout, the skipped three days ago.
    expect(chart.locator("rect")).to_have_count(4)
    titles = chart.locator("rect > title").all_text_contents()
    assert sorted(t.split(": ", 1)[1] for t in titles) == [
        "1 failed",
        "1 skipped",
        "1 timeout",
        "3 success",
    ]
    box = chart.bounding_box()
    assert box["width"] > 300 and box["height"] > 100  # drawn, not collapsed
    failures = page.locator("#dashboard-failures")
    expect(failures).to_contain_text("RuntimeError: the mail server said no")
    expect(failures).to_contain_text("420 ms")
    expect(page.locator("#dashboard-security")).to_contain_text("mallory")
    screenshot(page, "dashboard")

    failures.get_by_role("link").first.click()
    expect(page.locator("#content h2, #content h1").first).to_be_visible()
    expect(page.locator("body")).to_contain_text("the mail server said no")
    expect(page.locator('input[name="_save"]')).to_have_count(0)


def test_the_dashboard_renders_with_javascript_off(
    new_page, login, operator, history, screenshot
):
    page = login(new_page(java_script_enabled=False), operator)
    expect(page.locator("#dashboard-runs svg.ops-chart rect")).to_have_count(4)
    expect(page.locator("#dashboard-failures")).to_contain_text("mail server")
    screenshot(page, "dashboard-no-js")
