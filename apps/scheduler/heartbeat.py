"""Keep a running fire's ScheduleRun current while its handler works."""

import logging
import threading
from contextlib import contextmanager

from django.db import DatabaseError, connection
from django.utils import timezone

from apps.extensions.context import clip_message, log_progress

from .models import ScheduleRun

logger = logging.getLogger(__name__)
RUNNING = ScheduleRun.Status.RUNNING  # the same value for a ScheduleShardRun
MESSAGE_MAX_CHARS = ScheduleRun._meta.get_field("progress_message").max_length


class Heartbeat:
    """Write the users fanned out so far and the last ``ctx.progress`` report
    onto the running ScheduleRun every ``interval`` seconds, from a thread of
    its own, so an operator watching a long fan-out sees it advance.

    Pass :meth:`progress` as the context's progress callback, then run the
    handler inside ``with heartbeat.beating(run, ctx):``.
    """

    def __init__(self, interval):
        self.interval = interval
        self.percent = None  # the last ctx.progress report
        self.message = ""

    async def progress(self, percent, message=""):
        """Keep a ``ctx.progress(percent, message)`` report for the next beat.

        The message is kept clipped to its column (with a marker, as
        :func:`apps.extensions.context.clip_message` clips). Raises TypeError
        when ``percent`` is not a number.
        """
        await log_progress(percent, message)
        self.percent = float(percent)
        self.message = clip_message(message, MESSAGE_MAX_CHARS)

    @contextmanager
    def beating(self, run, ctx):
        """Beat for ``run`` (fan-out read from ``ctx``) while the block runs."""
        stopped = threading.Event()
        thread = threading.Thread(
            target=self._beat_until, args=(stopped, run, ctx), daemon=True
        )
        thread.start()
        try:
            yield self
        finally:
            stopped.set()
            thread.join()

    def beat(self, run, ctx):
        """Write one heartbeat now; return whether the run still held its claim.

        ``run`` is a ScheduleRun or, for one shard, a ScheduleShardRun.
        """
        updated = (
            type(run)
            .objects.filter(pk=run.pk, status=RUNNING, attempts=run.attempts)
            .update(
                users_fanned_out=ctx._fanned_out_count,
                progress_percent=self.percent,
                progress_message=self.message,
                heartbeat_at=timezone.now(),
            )
        )
        return updated == 1

    def _beat_until(self, stopped, run, ctx):
        try:
            while not stopped.wait(self.interval):
                try:
                    if not self.beat(run, ctx):
                        return  # the claim was taken over or reaped: not ours to write
                except DatabaseError as exc:  # a missed beat only delays the view
                    logger.warning("heartbeat of %s not written: %s", run, exc)
        finally:
            connection.close()  # this thread's own connection
