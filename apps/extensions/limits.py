"""How long the kernel lets an extension's handlers run."""

from django.conf import settings


def handler_timeout(app_id):
    """Return the seconds a tool or panel of ``app_id`` may run.

    IMPERAL_HANDLER_TIMEOUTS[app_id] when set, else IMPERAL_HANDLER_TIMEOUT.
    """
    overrides = getattr(settings, "IMPERAL_HANDLER_TIMEOUTS", {}) or {}
    return overrides.get(app_id, settings.IMPERAL_HANDLER_TIMEOUT)
