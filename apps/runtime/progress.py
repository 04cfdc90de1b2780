"""ctx.progress of an isolated call: the gateway keeps a worker's last report, and
the kernel waiting for the call hands it to the call's progress sink.

A worker cannot reach the process waiting for its call (a Celery worker, the web
process, the CLI). It sends its reports to the gateway (``POST
/v1/internal/progress`` with the call token), which keeps the last one in the
default cache under the call's id (:func:`keep_report`); while the call runs,
:class:`ProgressRelay` reads it every ``poll_seconds`` and once more when the call
has ended, and passes each new report to the sink the kernel gave the runtime (a
fire's heartbeat, the CLI's printer) — the sink an in-process ``ctx.progress``
feeds. Reports are advisory: one lost to a cache failure is logged, never raised.
"""

import asyncio
import logging
import time

from asgiref.sync import sync_to_async
from django.core.cache import cache

logger = logging.getLogger(__name__)
KEY_PREFIX = "imperal:progress:"


def keep_report(call_id, percent, message, ttl_seconds):
    """Keep ``(percent, message)`` as call ``call_id``'s last report for
    ``ttl_seconds``; return None. Raises what the cache raises."""
    report = (time.time_ns(), percent, message)
    cache.set(KEY_PREFIX + call_id, report, timeout=max(1, int(ttl_seconds)))


def last_report(call_id):
    """Return ``(stamp, percent, message)`` of call ``call_id``'s last report, or None."""
    return cache.get(KEY_PREFIX + call_id)


# Not thread-sensitive: the thread-sensitive thread is the one waiting for the call.
_read = sync_to_async(last_report, thread_sensitive=False)


class ProgressRelay:
    """Hand the reports kept for one call to ``sink(percent, message)`` while it runs."""

    poll_seconds = 1.0

    def __init__(self, call_id, sink):
        self.call_id = call_id
        self.sink = sink
        self._seen = None

    async def forward_until(self, call):
        """Await ``call`` (an awaitable), forwarding reports meanwhile; return its
        result, raise what it raises."""
        task = asyncio.ensure_future(call)
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=self.poll_seconds)
                await self._forward()
                if done:
                    return task.result()
        finally:
            if not task.done():
                task.cancel()

    async def _forward(self):
        try:
            report = await _read(self.call_id)
        except Exception as exc:  # any cache backend's error: the report is advisory
            logger.warning("progress of call %s not read: %s", self.call_id, exc)
            return
        if report is None or report[0] == self._seen:
            return
        self._seen, percent, message = report
        try:
            await self.sink(percent, message)
        except Exception:  # the sink is the kernel's; the call goes on regardless
            logger.exception("progress of call %s not taken by its sink", self.call_id)
