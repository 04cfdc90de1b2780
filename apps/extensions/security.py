"""Refused cross-partition attempts: counted (Prometheus) and recorded (SecurityEvent)."""

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

from django.db import connections
from prometheus_client import Counter

logger = logging.getLogger("imperal.security")

THREAT_COUNTER = Counter(
    "imperal_store_threat_total",
    "Cross-context bypass attempts (I-STORE-THREAT-COUNTER-1); any non-zero value is an incident.",
    ["kind", "app_id"],
)

_writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="security-event")


def record_threat(kind, partition, **detail):
    """Count the attempt, log it and write a SecurityEvent row; return nothing.

    Callable from synchronous code and from inside an event loop (``as_user``
    is synchronous but runs inside async handlers, where the ORM refuses to
    run), so the row is written from a worker thread when a loop is running.
    """
    THREAT_COUNTER.labels(kind=kind, app_id=partition.app_id).inc()
    logger.warning(
        "I-STORE-THREAT-COUNTER-1 %s by user %r in %s/%s: %s",
        kind,
        partition.user_id,
        partition.tenant_id,
        partition.app_id,
        detail,
    )
    fields = {
        "kind": kind,
        "tenant_id": partition.tenant_id,
        "app_id": partition.app_id,
        "user_id": partition.user_id,
        "detail": detail,
    }
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        _write_event(fields)
    else:
        _writer.submit(_write_event_in_thread, fields).result()


def _write_event(fields):
    from .models import SecurityEvent

    SecurityEvent.objects.create(**fields)


def _write_event_in_thread(fields):
    try:
        _write_event(fields)
    finally:
        # Rare path: do not keep a connection open in this thread (it would
        # also block dropping a test database).
        connections.close_all()
