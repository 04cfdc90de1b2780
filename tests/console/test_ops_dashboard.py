"""The dashboard on the admin index: documents per extension, runs of the last 7
days as a server-drawn SVG by status, the latest failures, security events."""

import datetime
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.accounts.models import SecurityEvent
from apps.accounts.partition import Partition
from apps.accounts.security import record_threat
from apps.console import charts
from apps.scheduler.models import ScheduleRun
from apps.store.connections import DjangoConnection
from apps.store.core import DocumentStore

pytestmark = pytest.mark.django_db(transaction=True)
INDEX = reverse("admin:index")


def run(status, days_ago=0, error="", duration_ms=12.5, slot=None):
    started = timezone.now() - datetime.timedelta(days=days_ago)
    return ScheduleRun.objects.create(
        app_id="probe",
        schedule="observe",
        slot=slot or f"{status}:{started.isoformat()}",
        status=status,
        started_at=started,
        finished_at=started,
        duration_ms=duration_ms,
        error=error,
    )


@pytest.fixture
def runs():
    run("success"), run("success"), run("failed", error="RuntimeError: boom\nline 2")
    run("timeout", days_ago=1, error="timed out after 300 s", duration_ms=300_000)
    run("skipped-duplicate", days_ago=2), run("skipped-disabled", days_ago=2)
    run("success", days_ago=9)  # older than the chart's week
    run("running")  # not finished: in no series


def segments(page):
    return re.findall(r'data-title="([^"]+)"', page)


def test_the_chart_draws_each_day_s_runs_by_status(admin_client, runs):
    page = admin_client.get(INDEX).content.decode()
    assert "<svg" in page and "Schedule runs, last 7 days (6)" in page
    today = timezone.now().strftime("%a %d")
    yesterday = (timezone.now() - datetime.timedelta(days=1)).strftime("%a %d")
    two_ago = (timezone.now() - datetime.timedelta(days=2)).strftime("%a %d")
    assert sorted(segments(page)) == sorted(
        [
            f"{today}: 2 success",
            f"{today}: 1 failed",
            f"{yesterday}: 1 timeout",
            f"{two_ago}: 2 skipped",
        ]
    )
    assert "<script" not in page.split('id="dashboard"')[1].split("</svg>")[0]


def test_latest_failures_show_their_first_error_line_and_link_to_the_run(
    admin_client, runs
):
    page = admin_client.get(INDEX).content.decode()
    failures = page.split('id="dashboard-failures"')[1].split("</section>")[0]
    assert "RuntimeError: boom" in failures and "line 2" not in failures
    assert "timed out after 300 s" in failures and "5 min" in failures
    failed = ScheduleRun.objects.get(status="failed")
    assert reverse("admin:scheduler_schedulerun_change", args=[failed.pk]) in failures


def test_documents_per_extension_come_from_the_store(admin_client, use_extensions):
    use_extensions("tests.fixtures.extensions.probe")
    store = DocumentStore(DjangoConnection())
    for user, n in (("alice", 3), ("bob", 1)):
        for i in range(n):
            store.create(Partition("default", "probe", user), "user", "notes", {"i": i})
    page = admin_client.get(INDEX).content.decode()
    documents = page.split('id="dashboard-documents"')[1].split("</section>")[0]
    row = re.search(
        r"probe</a></td><td class=\"num\">(\d+)</td><td class=\"num\">(\d+)", documents
    )
    assert row.groups() == ("2", "4")


def test_security_events_of_the_last_day_are_listed(admin_client):
    record_threat("as_user_outside_system", Partition("default", "probe", "mallory"))
    old = SecurityEvent.objects.create(
        kind="ancient", tenant_id="default", app_id="probe", user_id="eve", count=5
    )
    SecurityEvent.objects.filter(pk=old.pk).update(
        last_seen_at=timezone.now() - datetime.timedelta(hours=30)
    )
    page = admin_client.get(INDEX).content.decode()
    events = page.split('id="dashboard-security"')[1].split("</section>")[0]
    assert "as_user_outside_system" in events and "mallory" in events
    assert "ancient" not in events
    assert "(1 refused attempt)" in events


def test_an_operator_sees_only_the_sections_their_permissions_allow(operator, runs):
    page = operator("ops", "scheduler.view_schedulerun").get(INDEX).content.decode()
    assert 'id="dashboard-runs"' in page
    assert 'id="dashboard-documents"' not in page
    assert 'id="dashboard-security"' not in page


def test_nice_ceiling_and_bar_heights_scale_to_the_busiest_day():
    assert [charts.nice_ceiling(v) for v in (0, 1, 3, 7, 10, 11, 60)] == [
        1, 1, 5, 10, 10, 20, 100,
    ]  # fmt: skip
    shapes = charts.stacked_bars(
        ["a", "b"], [("ok", "#0f0", [4, 2]), ("ko", "#f00", [1, 0])]
    )
    assert shapes["top"] == 5
    heights = {s["title"]: s["h"] for s in shapes["segments"]}
    plot = charts.HEIGHT - charts.TOP - charts.BOTTOM
    assert heights == {"a: 4 ok": round(plot * 4 / 5, 1), "b: 2 ok": round(plot * 2 / 5, 1),
                       "a: 1 ko": round(plot / 5, 1)}  # fmt: skip
