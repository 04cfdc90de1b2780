"""Recording outbound calls for operators: a Prometheus count now, an OutboundCall
row soon after.

Writing a row on the caller's event loop would cost a database round trip
(and a thread hop) per call; instead rows queue in memory and one writer
thread per process stores them in batches on its own connection. What a
process holds when it is killed outright is lost (at most one batch); a
normal exit, or a Celery worker's, flushes it first. When the queue is full
(the database is down or far behind), rows are dropped and counted.
"""

import collections
import datetime
import logging
import queue
import threading
import time

from django.db import connections
from prometheus_client import Counter

from apps.accounts.partition import Partition
from apps.quotas import counters

from .limits import CALLS_KIND
from .models import OutboundCall, Outcome

logger = logging.getLogger(__name__)

CALLS = Counter(
    "imperal_egress_calls_total",
    "Outbound calls made for extensions (ctx.http), by extension and outcome.",
    ["app_id", "outcome"],
)
DROPPED = Counter(
    "imperal_egress_records_dropped_total",
    "OutboundCall rows not stored because the writer's queue was full.",
)
OUTCOMES = frozenset(Outcome.values)


class Recorder:
    """Counts each call at once and stores its OutboundCall row from a writer thread."""

    batch_size = 500
    max_pending = 10_000
    linger = 0.05  # seconds the writer waits after a first row, gathering a batch

    def __init__(self):
        self._queue = queue.Queue(maxsize=self.max_pending)
        self._lock = threading.Lock()
        self._thread = None

    def record(self, row):
        """Count ``row`` (OutboundCall field values) and queue it for storing; return None.

        Never blocks and never raises for a full queue (the row is dropped
        and counted instead).
        """
        # Labels from a fixed set and the (registered) extension's id, never input.
        outcome = row["outcome"] if row["outcome"] in OUTCOMES else Outcome.FAILED
        CALLS.labels(app_id=row["app_id"], outcome=outcome).inc()
        try:
            self._queue.put_nowait(row)
        except queue.Full:
            DROPPED.inc()
            return
        if self._thread is None or not self._thread.is_alive():
            self._start()

    def flush(self, timeout=30.0):
        """Wait until every row queued so far is stored (or given up on).

        Return whether it was, within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        done = self._queue.all_tasks_done
        with done:
            while self._queue.unfinished_tasks:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._writing():
                    return False
                done.wait(remaining)
        return True

    def _writing(self):
        return self._thread is not None and self._thread.is_alive()

    def _start(self):
        with self._lock:
            if not self._writing():
                thread = threading.Thread(
                    target=self._run, name="outbound-calls", daemon=True
                )
                thread.start()
                self._thread = thread

    def _run(self):
        while True:
            batch = [self._queue.get()]
            time.sleep(self.linger)
            while len(batch) < self.batch_size:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self._store(batch)
            finally:
                for _ in batch:
                    self._queue.task_done()

    def _store(self, batch):
        try:
            OutboundCall.objects.bulk_create(OutboundCall(**row) for row in batch)
            _add_usage(batch)
        except Exception as exc:  # the writer must outlive any one batch
            logger.error(
                "%d outbound call record(s) not stored: %s: %s",
                len(batch),
                type(exc).__name__,
                exc,
            )
        finally:
            if self._queue.empty():
                # Idle: hold no connection (nor, on SQLite, a lock) between bursts.
                connections.close_all()


recorder = Recorder()

# Calls that went out (answered or not); refusals before any connection did not.
_NOT_MADE = frozenset({Outcome.REFUSED, Outcome.RATE_LIMITED, Outcome.BUSY})


def _add_usage(batch):
    """Add the batch's calls to each user's daily usage figure (apps.quotas)."""
    days = collections.Counter(
        (
            Partition(row["tenant_id"], row["app_id"], row["user_id"]),
            row["started_at"].astimezone(datetime.UTC).date(),
        )
        for row in batch
        if row["outcome"] not in _NOT_MADE
    )
    for (partition, day), count in days.items():
        counters.add(CALLS_KIND, partition, count, now=_noon(day))


def _noon(day):
    return datetime.datetime.combine(day, datetime.time(12), datetime.UTC)
