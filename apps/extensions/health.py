"""``@ext.health_check``: run every 60 s by beat; the latest result per extension.

Each extension has one ExtensionHealth row (the admin shows it whole, /healthz
only its status),
claimed per interval with a conditional update so several beats or workers
run a check once. A change of status (and the first check) is also a
LifecycleRun, so the history of an extension's health is kept without a row
per minute.
"""

import datetime

from asgiref.sync import async_to_sync
from django.conf import settings
from django.utils import timezone

from apps.accounts.identity import SYSTEM_ID, system_user_context
from apps.common.timestamps import rfc3339

from .context import build_context
from .models import Extension as ExtensionRow
from .models import ExtensionHealth, LifecycleRun
from .registry import get_registry
from .runtimes import run_kernel_handler

INTERVAL_SECONDS = 60  # imperal-sdk: "Called every 60s by kernel"
CLAIM_SLACK_SECONDS = 5  # a beat tick a little early still claims its minute
BEAT_ACTOR = "beat"
Health = ExtensionHealth.Status
# What handlers answer in "status" (imperal-sdk's HealthStatus, dicts, ActionResult).
STATUS_WORDS = {
    "ok": Health.OK,
    "healthy": Health.OK,
    "up": Health.OK,
    "success": Health.OK,
    "degraded": Health.DEGRADED,
    "warning": Health.DEGRADED,
}


def run_health_checks(now=None):
    """Run every due health_check of the enabled extensions; return {app_id: status}."""
    now = now or timezone.now()
    disabled = set(ExtensionRow.objects.disabled_app_ids())
    statuses = {}
    for loaded in get_registry():
        check = getattr(loaded.ext, "_health_check", None)
        if check is None or loaded.app_id in disabled:
            continue
        if _claim(loaded.app_id, now):
            statuses[loaded.app_id] = check_one(loaded, check.func, now)
    return statuses


def check_one(loaded, func, now):
    """Run one health_check in system context; store and return its status."""
    ctx = build_context(
        loaded.ext,
        system_user_context(settings.IMPERAL_DEFAULT_TENANT),
        tool_type="health_check",
    )
    outcome = async_to_sync(run_kernel_handler)(
        loaded,
        "health",
        "health_check",
        f"{loaded.app_id} health_check",
        func,
        ctx,
        settings.IMPERAL_HEALTH_CHECK_TIMEOUT,
    )
    status = health_status(outcome)
    row = ExtensionHealth.objects.get(app_id=loaded.app_id)
    if row.status != status:
        LifecycleRun.objects.create(
            app_id=loaded.app_id,
            hook=LifecycleRun.Hook.HEALTH,
            user_id=SYSTEM_ID,
            actor=BEAT_ACTOR,
            status=outcome.status,
            result={"from": row.status or None, "to": status},
            error=outcome.error,
            duration_ms=outcome.duration_ms,
        )
    row.status, row.result, row.error = status, outcome.result, outcome.error
    row.duration_ms, row.checked_at = outcome.duration_ms, now
    row.save(update_fields=["status", "result", "error", "duration_ms", "checked_at"])
    return status


def health_status(outcome):
    """Return ok, degraded or unhealthy for a health_check's HandlerOutcome.

    Raising or timing out is unhealthy; ``False`` or ``{"healthy": False}``
    is unhealthy; a ``status`` word is read through STATUS_WORDS (any other
    word is unhealthy); anything else returned is ok.
    """
    if not outcome.ok:
        return Health.UNHEALTHY
    result = outcome.result
    if isinstance(result, bool):
        return Health.OK if result else Health.UNHEALTHY
    if not isinstance(result, dict):
        return Health.OK
    if isinstance(result.get("healthy"), bool):
        return Health.OK if result["healthy"] else Health.UNHEALTHY
    word = result.get("status")
    if isinstance(word, str):
        return STATUS_WORDS.get(word.lower(), Health.UNHEALTHY)
    return Health.OK


def health_results():
    """Return {app_id: {status, checked_at, error, duration_ms}} of every checked
    extension, for operators; ``checked_at`` is ISO 8601."""
    return {
        row.app_id: {
            "status": row.status,
            "checked_at": rfc3339(row.checked_at),
            "error": row.error,
            "duration_ms": round(row.duration_ms, 3),
        }
        for row in ExtensionHealth.objects.exclude(checked_at=None)
    }


def health_statuses():
    """Return {app_id: {"status"}} of every checked extension: what /healthz,
    which answers anyone, may publish (never the error, result or timing)."""
    return {
        app_id: {"status": status}
        for app_id, status in ExtensionHealth.objects.exclude(
            checked_at=None
        ).values_list("app_id", "status")
    }


def _claim(app_id, now):
    ExtensionHealth.objects.bulk_create(
        [ExtensionHealth(app_id=app_id, due_at=now)], ignore_conflicts=True
    )
    next_due = now + datetime.timedelta(seconds=INTERVAL_SECONDS - CLAIM_SLACK_SECONDS)
    claimed = ExtensionHealth.objects.filter(app_id=app_id, due_at__lte=now).update(
        due_at=next_due
    )
    return claimed == 1
