"""Count every schedule run stored with its final status (imperal_schedule_runs_total)."""

from apps.common.telemetry import metrics

from .models import RunStatus

FINAL_STATUSES = frozenset(RunStatus.values) - {RunStatus.RUNNING}


def run_recorded(app_id, schedule, status, duration_ms=None):
    """Count one run of ``app_id``'s ``schedule`` stored with final ``status``;
    ``duration_ms`` (its handler ran) is also timed (imperal_schedule_run_seconds)."""
    seconds = None if duration_ms is None else duration_ms / 1000
    metrics.schedule_run_recorded(app_id, schedule, status, FINAL_STATUSES, seconds)
