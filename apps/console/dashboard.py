"""The admin index's dashboard: documents per extension, schedule runs of the last
seven days by status, the latest failures, the security events of the last day.

Each section needs the view permission of the rows it shows; one the operator
lacks is left out. Documents come from the store's trigger-kept statistics
(one row per user, no document read); runs from ScheduleRun's started_at index.
"""

import datetime

from django.db.models import Count
from django.db.models.functions import TruncDate
from django.urls import reverse
from django.utils import timezone

from apps.accounts.models import SecurityEvent
from apps.api import data
from apps.common.admin import human_duration
from apps.scheduler.models import RunStatus, ScheduleRun
from apps.store.stats import Statistics

from . import charts

RUN_DAYS = 7
FAILURES_SHOWN = 10
EVENTS_HOURS = 24
EVENTS_SHOWN = 20
# The chart's series: a label, its colour, and the run statuses it adds up.
SERIES = (
    ("success", "#2e7d32", (RunStatus.SUCCESS,)),
    ("failed", "#c62828", (RunStatus.FAILED,)),
    ("timeout", "#ef6c00", (RunStatus.TIMEOUT,)),
    ("skipped", "#78909c", (RunStatus.SKIPPED_DUPLICATE, RunStatus.SKIPPED_DISABLED)),
)
FAILED = (RunStatus.FAILED, RunStatus.TIMEOUT)


def build(request, now=None):
    """Return the dashboard's sections the operator may see, as template context."""
    now = now or timezone.now()
    user = request.user
    sections = {}
    if user.has_perm("store.view_document"):
        sections["documents"] = documents_per_extension(user.tenant_id)
    if user.has_perm("scheduler.view_schedulerun"):
        sections["runs"] = runs_section(runs_by_day(now))
        sections["failures"] = latest_failures()
    if user.has_perm("accounts.view_securityevent"):
        sections["events"] = security_events(user.tenant_id, now)
    return sections


def runs_section(days):
    """Return the chart's shapes, totals and series names of ``runs_by_day``."""
    series = [
        (label, colour, [day["counts"][label] for day in days])
        for label, colour, _ in SERIES
    ]
    return {
        "days": days,
        "chart": charts.stacked_bars([day["label"] for day in days], series),
        "total": sum(sum(day["counts"].values()) for day in days),
        "series": [label for label, _, _ in SERIES],
    }


def documents_per_extension(tenant_id):
    """Return [{app_id, users, documents, url}] of every extension known here."""
    counted = Statistics().extensions(tenant_id)
    known = set(data.known_app_ids()) | set(counted)
    return [
        {
            "app_id": app_id,
            **counted.get(app_id, {"users": 0, "documents": 0}),
            "url": reverse("console:users", args=[app_id]),
        }
        for app_id in sorted(known)
    ]


def runs_by_day(now):
    """Return the last RUN_DAYS UTC days, oldest first: [{day, label, counts}]
    with counts {series label: runs started that day}."""
    today = now.astimezone(datetime.UTC).date()
    first = today - datetime.timedelta(days=RUN_DAYS - 1)
    start = datetime.datetime.combine(first, datetime.time(), tzinfo=datetime.UTC)
    series_of = {status: label for label, _, statuses in SERIES for status in statuses}
    rows = (
        ScheduleRun.objects.filter(started_at__gte=start, status__in=series_of)
        .annotate(day=TruncDate("started_at", tzinfo=datetime.UTC))
        .values("day", "status")
        .annotate(n=Count("id"))
    )
    days = {
        first + datetime.timedelta(days=i): {label: 0 for label, _, _ in SERIES}
        for i in range(RUN_DAYS)
    }
    for row in rows:
        if row["day"] in days:
            days[row["day"]][series_of[row["status"]]] += row["n"]
    return [
        {"day": day, "label": day.strftime("%a %d"), "counts": counts}
        for day, counts in days.items()
    ]


def latest_failures():
    """Return the latest failed or timed-out runs with their error, newest first."""
    runs = ScheduleRun.objects.filter(status__in=FAILED).order_by("-started_at", "-id")
    return [
        {
            "run": run,
            "duration": human_duration(run.duration_ms),
            "error": run.error.strip().splitlines()[0][:200]
            if run.error.strip()
            else "",
            "url": reverse("admin:scheduler_schedulerun_change", args=[run.pk]),
        }
        for run in runs[:FAILURES_SHOWN]
    ]


def security_events(tenant_id, now):
    """Return {rows, attempts} of the tenant's security events seen in the last
    EVENTS_HOURS hours (each row stands for ``count`` refused attempts)."""
    since = now - datetime.timedelta(hours=EVENTS_HOURS)
    events = SecurityEvent.objects.filter(tenant_id=tenant_id, last_seen_at__gte=since)
    return {
        "rows": list(events.order_by("-last_seen_at", "-id")[:EVENTS_SHOWN]),
        "attempts": events.attempts(),
        "hours": EVENTS_HOURS,
        "url": reverse("admin:accounts_securityevent_changelist")
        + f"?tenant_id={tenant_id}",
    }
