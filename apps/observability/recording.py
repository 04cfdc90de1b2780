"""Keep each failure answered with an error id (apps.common.http's
``error_logged``) as a RecordedError, secrets scrubbed, for the admin."""

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

from django.db import DatabaseError, connections, transaction

from .models import RecordedError
from .scrub import scrub

logger = logging.getLogger(__name__)

MESSAGE_MAX_CHARS = 10_000
TRACEBACK_MAX_CHARS = 100_000

_writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="recorded-error")


def record_error(
    sender, error_id, kind, exception_type, message, traceback, scope, **kwargs
):
    """Store one RecordedError (the ``error_logged`` receiver); return None.

    Callable from synchronous code and from inside an event loop (the row is
    then written from a worker thread). A database failure is logged, never
    raised: the answer naming the error id still goes out, and the log line
    keeps the traceback.
    """
    row = RecordedError(
        error_id=error_id,
        kind=kind,
        exception_type=exception_type[:200],
        message=_clipped(scrub(message), MESSAGE_MAX_CHARS),
        traceback=_clipped(scrub(traceback), TRACEBACK_MAX_CHARS),
        **_where(scope),
    )
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        _save(row)
    else:
        _writer.submit(_save_in_thread, row).result()


def _where(scope):
    if scope is None:
        return {}
    return {
        "request_id": scope.request_id[:128],
        "route": scope.route[:200],
        "method": scope.method[:16],
        "tenant_id": scope.tenant_id[:64],
        "user_id": scope.user_id[:128],
        "app_id": scope.app_id[:128],
        "handler": scope.handler[:128],
    }


def _clipped(text, limit):
    if len(text) <= limit:
        return text
    return f"{text[:limit]}\n… ({len(text) - limit} more characters not kept)"


def _save(row):
    try:
        # A savepoint: a failed insert must not break the caller's transaction.
        with transaction.atomic():
            row.save(force_insert=True)
    except DatabaseError as exc:
        logger.error("error %s not recorded in the database: %s", row.error_id, exc)


def _save_in_thread(row):
    try:
        _save(row)
    finally:
        # Rare path: keep no connection open in this thread.
        connections.close_all()
