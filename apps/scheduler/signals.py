"""Work the scheduler's modules ask to be queued; tasks.py's receivers queue it.

The Celery tasks run fire.py, shards.py and missed.py, so those modules cannot
import the tasks; they send these signals instead, and the receivers (connected
in SchedulerConfig.ready) send the task messages.
"""

from django.dispatch import Signal

# Sent with ``run_id`` and ``indices``: queue these shards of a sharded fire.
shards_due = Signal()

# Sent with ``app_id``, ``schedule`` and ``slot``: queue a catch-up fire of a
# missed slot.
catch_up_due = Signal()


def send_or_fail(signal, **kwargs):
    """Send ``signal`` with ``kwargs``; raise RuntimeError when nobody received it.

    Work nobody queued would be lost without a word.
    """
    if not signal.send(sender=None, **kwargs):
        raise RuntimeError(
            "no receiver queues the scheduler's work: apps.scheduler is not ready"
        )
