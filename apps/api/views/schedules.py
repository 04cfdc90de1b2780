"""Operators: schedules with their runs, and run-now (the path of ``ext fire``)."""

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework.response import Response

from apps.extensions.errors import ExtensionDisabled
from apps.scheduler.fire import fire_now
from apps.scheduler.models import Schedule, ScheduleRun

from ..actions import record_run_now
from ..schema import errors
from ..serializers import (
    RunPageSerializer,
    ScheduleListSerializer,
    ScheduleRunSerializer,
)
from . import pages
from .base import OperatorView

RUNS_PER_SCHEDULE = 5
VIEW_RUNS = "scheduler.view_schedulerun"
# Running a schedule records a new ScheduleRun: the model's "add" permission.
RUN = "scheduler.add_schedulerun"


def run_json(run):
    """Return one ScheduleRun as JSON values."""
    return ScheduleRunSerializer(run).data


class ScheduleList(OperatorView):
    required_permissions = (VIEW_RUNS,)

    @extend_schema(
        summary="List the schedules with their latest runs",
        responses={200: ScheduleListSerializer, **errors()},
        tags=["operators"],
    )
    def get(self, request):
        schedules = Schedule.objects.select_related("periodic_task").order_by(
            "app_id", "name"
        )
        return Response({"schedules": [_with_runs(s) for s in schedules]})


def _with_runs(schedule):
    runs = ScheduleRun.objects.filter(
        app_id=schedule.app_id, schedule=schedule.name
    ).order_by("-started_at", "-id")[:RUNS_PER_SCHEDULE]
    return {
        "app_id": schedule.app_id,
        "name": schedule.name,
        "cron": schedule.cron,
        "enabled": schedule.enabled,
        "present": schedule.present,
        "runs": [run_json(run) for run in runs],
    }


@extend_schema_view(
    get=extend_schema(
        summary="List one schedule's runs, newest first",
        parameters=[pages.PageQuery],
        responses={200: RunPageSerializer, **errors(400)},
        tags=["operators"],
    )
)
class ScheduleRuns(pages.KeysetList, OperatorView):
    required_permissions = (VIEW_RUNS,)
    column = "started_at"

    def rows(self, options, app_id, name):
        return ScheduleRun.objects.filter(app_id=app_id, schedule=name)

    def serialize(self, page):
        return ScheduleRunSerializer(page, many=True).data


class RunNow(OperatorView):
    required_permissions = (RUN,)

    @extend_schema(
        summary="Run a schedule now, as manage.py ext fire does, and answer its run",
        request=None,
        responses={200: ScheduleRunSerializer, **errors(404, 409)},
        tags=["operators"],
    )
    def post(self, request, app_id, name):
        """Fires in this request, through the same path as a Celery fire, for a slot of
        its own (manual:<time>); the answer is the finished run."""
        run = fire_now(app_id, name, operator=request.user.get_username())
        record_run_now(request.user, run)
        if run.status == ScheduleRun.Status.SKIPPED_DISABLED:
            raise ExtensionDisabled(app_id)  # 409; the refusal is on record
        return Response(run_json(run))
