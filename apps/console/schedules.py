"""The schedules page: every @ext.schedule with its cron in words, next fire,
enabled switch (its django-celery-beat entry) and last runs; "Run now".

"Run now" fires through :func:`apps.scheduler.fire.fire_now`, the operator fire
of ``manage.py ext fire`` and the API, for a slot of its own, and redirects to
the run it recorded (a disabled extension's refusal records one too). A
schedule the registry no longer has is refused with a message; nothing is
recorded.
"""

import datetime

from croniter import croniter
from django.contrib import messages
from django.db import transaction
from django.http import HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from apps.api.actions import Action, record, record_run_now
from apps.common.admin import cron_in_words, human_duration
from apps.extensions.errors import InvocationError
from apps.scheduler.fire import fire_now
from apps.scheduler.models import Schedule, ScheduleRun

from .site import can, console_view, render_console

VIEW = "scheduler.view_schedule"
SWITCH = "scheduler.change_schedule"
# Running a schedule records a new ScheduleRun (as the operator API's run-now).
RUN = "scheduler.add_schedulerun"
VIEW_RUNS = "scheduler.view_schedulerun"
RUNS_SHOWN = 5


@console_view(VIEW)
def schedules(request):
    """Every schedule, with what beat will do next and what its last runs did."""
    now = timezone.now()
    show_runs = can(request, VIEW_RUNS)
    rows = [
        describe(schedule, now, with_runs=show_runs)
        for schedule in Schedule.objects.select_related("periodic_task").order_by(
            "app_id", "name"
        )
    ]
    context = {
        "rows": rows,
        "can_run": can(request, RUN),
        "can_switch": can(request, SWITCH),
        "show_runs": show_runs,
        "now": now,
    }
    return render_console(
        request, "console/ops/schedules.html", context, title="Schedules"
    )


def describe(schedule, now, with_runs=True):
    """Return one schedule as the page shows it: {schedule, words, next_fire, runs}."""
    return {
        "schedule": schedule,
        "anchor": f"{schedule.app_id}:{schedule.name}",
        "words": cron_in_words(schedule.cron),
        "next_fire": next_fire(schedule, now),
        "runs": last_runs(schedule) if with_runs else [],
        "edit_url": reverse("admin:scheduler_schedule_change", args=[schedule.pk]),
    }


def next_fire(schedule, now):
    """Return when beat fires ``schedule`` next (UTC), or None while it will not."""
    if not (schedule.present and schedule.enabled):
        return None
    return croniter(schedule.cron, now.astimezone(datetime.UTC)).get_next(
        datetime.datetime
    )


def last_runs(schedule):
    """Return the schedule's latest runs, newest first, with a readable duration."""
    runs = ScheduleRun.objects.filter(
        app_id=schedule.app_id, schedule=schedule.name
    ).order_by("-started_at", "-id")[:RUNS_SHOWN]
    return [
        {
            "run": run,
            "duration": human_duration(run.duration_ms),
            "url": reverse("admin:scheduler_schedulerun_change", args=[run.pk]),
        }
        for run in runs
    ]


@require_POST
@console_view(RUN)
def run_now(request, app_id, name):
    """Fire the schedule now, as ``manage.py ext fire`` does, recorded with the
    operator's name; show its run."""
    get_object_or_404(Schedule, app_id=app_id, name=name)
    try:
        run = fire_now(app_id, name, operator=request.user.get_username())
    except InvocationError as exc:
        messages.error(request, f"Did not run {app_id}:{name}: {exc}")
        return redirect("console:schedules")
    record_run_now(request.user, run)
    messages.info(request, f"Ran {app_id}:{name} now: {run.get_status_display()}.")
    return redirect("admin:scheduler_schedulerun_change", run.pk)


@require_POST
@console_view(SWITCH)
def switch(request, app_id, name):
    """Enable or disable the schedule's beat entry (``enabled`` = "1" or "0"),
    recorded with the operator's name."""
    schedule = get_object_or_404(
        Schedule.objects.select_related("periodic_task"), app_id=app_id, name=name
    )
    wanted = request.POST.get("enabled")
    if wanted not in ("0", "1"):
        return HttpResponseBadRequest(
            f'enabled must be "0" or "1", got {wanted!r:.20}', content_type="text/plain"
        )
    task = schedule.periodic_task
    if task is None or not schedule.present:
        messages.error(
            request,
            f"{schedule.label} has no beat entry to switch (its extension no "
            "longer declares it).",
        )
    else:
        _switch(request, schedule, task, wanted == "1")
    return redirect(
        reverse("console:schedules") + f"#{schedule.app_id}:{schedule.name}"
    )


def _switch(request, schedule, task, enabled):
    """Set the beat entry's switch, recording a change with the operator's name."""
    state = "enabled" if enabled else "disabled"
    if task.enabled == enabled:
        messages.info(request, f"{schedule.label} was already {state}.")
        return
    task.enabled = enabled
    with transaction.atomic():
        task.save()  # saving a PeriodicTask tells beat
        detail = {"schedule": schedule.name, "enabled": enabled}
        record(request.user, Action.SWITCH, app_id=schedule.app_id, detail=detail)
    messages.success(request, f"{schedule.label} {state}.")


urlpatterns = [
    path("", schedules, name="schedules"),
    path("<str:app_id>/<str:name>/run/", run_now, name="schedule-run"),
    path("<str:app_id>/<str:name>/switch/", switch, name="schedule-switch"),
]
