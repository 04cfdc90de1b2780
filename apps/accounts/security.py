"""Refused cross-partition attempts: counted (Prometheus) and recorded (SecurityEvent).

The one home of the rule "only a privileged context may address another user"
(:func:`require_system`; the privileged identities are the system's and the
webhook context's, PRIVILEGED_IDS) and of what a refusal leaves behind
(:func:`record_threat`).
Every attempt increments the Prometheus counter; the database keeps one row per
kind, identity and interval with a count, so a hostile loop cannot turn refusals
into a flood of rows or log lines. An app id that no loaded extension has (one a
caller made up in a URL) is neither a label value nor a row's key: it is
UNKNOWN_APP there, and the row's detail keeps what was asked.
"""

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import DatabaseError, connections
from django.utils import timezone
from prometheus_client import Counter

from apps.common.telemetry.labels import UNKNOWN, app_label

from .models import PRIVILEGED_IDS, SYSTEM_ID, WEBHOOK_ID, SecurityEvent

__all__ = [
    "PRIVILEGED_IDS",
    "SYSTEM_ID",
    "UNKNOWN_APP",
    "WEBHOOK_ID",
    "record_threat",
    "require_system",
]

logger = logging.getLogger("imperal.security")

THREAT_COUNTER = Counter(
    "imperal_store_threat_total",
    "Cross-context bypass attempts (I-STORE-THREAT-COUNTER-1); any non-zero value is an incident.",
    ["kind", "app_id"],
)

DETAIL_MAX_KEYS = 8
DETAIL_VALUE_MAX_CHARS = 200
IDENTITY_MAX_CHARS = 128  # the SecurityEvent columns' width
DEFAULT_INTERVAL_SECONDS = 60
# The one label rule's "not a loaded extension" (apps.common.telemetry.labels).
UNKNOWN_APP = UNKNOWN


_writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="security-event")


def require_system(partition, call, kind, **detail):
    """Return None when ``partition``'s user is privileged (PRIVILEGED_IDS); else
    record and raise.

    ``call`` names what was attempted in the message (``"ctx.as_user()"``),
    ``kind`` is the SecurityEvent kind. Raises RuntimeError (I-AS-USER-1).
    """
    if partition.user_id in PRIVILEGED_IDS:
        return
    record_threat(kind, partition, **detail)
    raise RuntimeError(
        f"{call} requires system context (got user {_clip(partition.user_id)!r}); "
        "only @ext.schedule handlers, webhooks and other system calls may address "
        "another user (I-AS-USER-1, I-STORE-THREAT-COUNTER-1)"
    )


def record_threat(kind, partition, **detail):
    """Count the attempt, and record it on this interval's SecurityEvent row; return None.

    ``detail`` is bounded (a few keys, each value clipped) before it is
    logged or stored. Callable from synchronous code and from inside an
    event loop (where the ORM refuses to run: the row is written from a
    worker thread). A database failure is logged, never raised: the refusal
    that called this still happens.
    """
    app_id = app_label(partition.app_id)
    if app_id != partition.app_id:
        detail = {"asked_app_id": partition.app_id, **detail}
    THREAT_COUNTER.labels(kind=kind, app_id=app_id).inc()
    row = {
        "kind": _clip(kind, 64),
        "tenant_id": _clip(partition.tenant_id, 64),
        "app_id": app_id,
        "user_id": _clip(partition.user_id),
        "detail": bounded_detail(detail),
    }
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        first = _write_event(row)
    else:
        first = _writer.submit(_write_event_in_thread, row).result()
    if first:  # one log line per kind, identity and interval
        logger.warning(
            "I-STORE-THREAT-COUNTER-1 %s by user %r in %s/%s: %s",
            row["kind"],
            row["user_id"],
            row["tenant_id"],
            row["app_id"],
            row["detail"],
        )


def bounded_detail(detail):
    """Return ``detail`` with at most DETAIL_MAX_KEYS keys, each value a clipped string."""
    items = list(detail.items())[:DETAIL_MAX_KEYS]
    return {
        _clip(str(key), 40): _clip(
            value if isinstance(value, str) else repr(value), DETAIL_VALUE_MAX_CHARS
        )
        for key, value in items
    }


def interval_seconds():
    """Return the aggregation interval of SecurityEvent rows (IMPERAL_SECURITY_EVENT_INTERVAL)."""
    return getattr(
        settings, "IMPERAL_SECURITY_EVENT_INTERVAL", DEFAULT_INTERVAL_SECONDS
    )


def _clip(text, limit=IDENTITY_MAX_CHARS):
    text = str(text)
    if len(text) <= limit:
        return text
    return f"{text[: limit - 12]}…(+{len(text) - limit + 12})"[:limit]


_UPSERT = """INSERT INTO {table}
    (kind, tenant_id, app_id, user_id, detail, count, bucket, created_at, last_seen_at)
VALUES (%s, %s, %s, %s, %s, 1, %s, %s, %s)
ON CONFLICT (kind, tenant_id, app_id, user_id, bucket)
DO UPDATE SET count = {table}.count + 1, last_seen_at = excluded.last_seen_at
RETURNING count"""


def _write_event(row):
    """Insert or count up this interval's row; return whether it is the first attempt."""

    connection = connections["default"]
    field = SecurityEvent._meta.get_field
    now = timezone.now()
    bucket = int(time.time()) // max(1, int(interval_seconds()))
    values = [
        row["kind"],
        row["tenant_id"],
        row["app_id"],
        row["user_id"],
        field("detail").get_db_prep_save(row["detail"], connection),
        bucket,
        field("created_at").get_db_prep_save(now, connection),
        field("last_seen_at").get_db_prep_save(now, connection),
    ]
    sql = _UPSERT.format(table=connection.ops.quote_name(SecurityEvent._meta.db_table))
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, values)
            (count,) = cursor.fetchone()
    except DatabaseError as exc:
        logger.error("security event %s not recorded: %s", row["kind"], exc)
        return True
    return count == 1


def _write_event_in_thread(row):
    try:
        return _write_event(row)
    finally:
        # Rare path: do not keep a connection open in this thread (it would
        # also block dropping a test database).
        connections.close_all()
