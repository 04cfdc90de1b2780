"""/healthz's checks: the database, the caches and the Celery broker, one by one.

/healthz answers anyone, so a check's result is a word: ``ok`` or ``down``.
Why a service is down goes to the log only, its credentials masked.
"""

import logging

from django.core.cache import caches
from django.db import connection

from apps.cache.core import get_core
from apps.common.errors import without_credentials

logger = logging.getLogger(__name__)

BROKER_TIMEOUT_SECONDS = 2.0
PROBE_KEY = "imperal:healthz"


class ServiceDown(Exception):
    """A check failed; the message says how (never a credential)."""


def check_database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def check_cache():
    """The Django "default" cache (rate limits, sessions) and ctx.cache's backend."""
    cache = caches["default"]
    cache.set(PROBE_KEY, "ok", timeout=10)
    if cache.get(PROBE_KEY) != "ok":
        raise ServiceDown("the default cache did not return what was written")
    core = get_core()
    if core is not None:
        core.backend.get(f"{core.key_prefix}:healthz")


def check_broker():
    # The project's Celery app is the current one once Django has started
    # (imperal_platform/__init__.py); naming it here would import upwards.
    from celery import current_app as app

    with app.connection_for_write(connect_timeout=BROKER_TIMEOUT_SECONDS) as conn:
        conn.ensure_connection(max_retries=0, timeout=BROKER_TIMEOUT_SECONDS)


CHECKS = {"database": check_database, "cache": check_cache, "broker": check_broker}


UP, DOWN = "ok", "down"


def run_checks(checks=None):
    """Return {name: "ok" or "down"} for every check, each run on its own.

    A failure is logged with its reason (credentials masked), never returned.
    """
    results = {}
    for name, check in (checks or CHECKS).items():
        try:
            check()
        except Exception as exc:  # any failure of any kind means down
            logger.warning(
                "healthz: %s is down: %s: %s",
                name,
                type(exc).__name__,
                without_credentials(exc),
            )
            results[name] = DOWN
        else:
            results[name] = UP
    return results
