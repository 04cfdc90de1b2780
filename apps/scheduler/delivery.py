"""Exactly once per user per slot: a fire's deliveries, recorded in batches.

A fire's system context gets a DeliveryLedger as its FanOut. ``list_users``
passes every page of ids through it; the ledger holds each user's in-app
notifications until the loop has moved past that user, then stores a batch of
users' notifications and their delivery rows in ONE transaction. A re-run of
the slot (a worker died, a shard was retried) skips the users recorded: each
was notified exactly once, and memory holds one batch, whatever the user count.

What counts as a user's work is its iteration of the ``list_users`` loop
(the seed's and imperal-sdk's loops). A handler that collects every id first
and notifies later stores those notifications at once, outside the ledger.

An isolated extension's fire keeps the same ledger on both sides of the
gateway: its worker holds the in-app notifications of the user in progress
and reports each batch of finished users with them; the gateway stores them
with :func:`record_delivered` and skips delivered users in ``list_users``
with :func:`delivered_among` (``scope`` is what the call token carries).
"""

import logging
from collections import deque

from django.conf import settings
from django.db import connection

from apps.common.statements import BEGIN, COMMIT, run_on_django
from apps.extensions.fanout import FanOut
from apps.notifications.core import insert_rows, translated
from apps.notifications.face import store_rows
from apps.runtime.worker.envelope import FanOutScope

from .models import Delivery

logger = logging.getLogger(__name__)

TABLE = Delivery._meta.db_table
RECENT = 64  # as_user ids remembered to count a repeated as_user once


class DeliveryLedger(FanOut):
    """The FanOut of one fire (or one shard of it), for ScheduleRun ``run_id``.

    ``resumed``: an earlier attempt of this slot may have delivered users, so
    each page is checked against the recorded deliveries (a first attempt
    skips that query). ``already`` is how many the earlier attempts delivered.
    """

    def __init__(self, run_id, shard=None, resumed=False, already=0):
        # Users per transaction of notifications + deliveries.
        self.batch_size = settings.IMPERAL_SCHEDULE_DELIVERY_BATCH
        self.run_id = run_id
        self.shard = shard
        self.resumed = resumed
        self.outbox = self
        self._count = already
        self._recent = deque(maxlen=RECENT)
        self._current = None
        self._current_rows = []
        self._done = []
        self._done_set = set()
        self._held = []

    # --- FanOut ----------------------------------------------------------
    def scoped(self, user_id):
        if user_id not in self._recent:
            self._recent.append(user_id)
            self._count += 1

    @property
    def count(self):
        return self._count

    @property
    def users(self):
        raise AttributeError("a fire's ledger keeps no set of its users")

    @property
    def scope(self):
        """The FanOutScope an isolated run of this fire carries in its call token."""
        shard = self.shard
        return FanOutScope(
            run_id=self.run_id,
            shard_index=shard.index if shard else 0,
            shard_count=shard.count if shard else 1,
            resumed=self.resumed,
            batch_size=self.batch_size,
        )

    async def pending(self, user_ids):
        if not self.resumed or not user_ids:
            return user_ids
        done = set(await store_rows(_delivered(self.run_id, user_ids)))
        return [user_id for user_id in user_ids if user_id not in done]

    def entered(self, user_id):
        self._current, self._current_rows = user_id, []

    async def finished(self, user_id):
        self._complete_current()
        if len(self._done) >= self.batch_size:
            await self.flush()

    async def exhausted(self):
        await self.flush()

    # --- the outbox ctx.notify writes to ---------------------------------
    def hold(self, row):
        """Keep ``row`` (a notification_row) for its user's delivery; return
        False, storing nothing, when its user is not one this ledger holds."""
        user_id = row["user_id"]
        if user_id == self._current:
            self._current_rows.append(row)
        elif user_id in self._done_set:
            self._held.append(row)
        else:
            return False
        return True

    # --- storing ---------------------------------------------------------
    async def flush(self):
        """Store the finished users' notifications and deliveries in one
        transaction; return how many users. Raises NotifyUnavailable."""
        if not self._done:
            return 0
        done, held = self._done, self._held
        await store_rows(_record(self.run_id, done, held))
        self._done, self._done_set, self._held = [], set(), []
        return len(done)

    async def close(self, succeeded):
        """Store what the fire finished. After a success the user in progress
        (a handler that broke out of its loop) is finished too; after a
        failure or timeout its notifications are dropped, so a re-run
        delivers that user whole."""
        if self._current is not None and succeeded:
            self._complete_current()
        elif self._current_rows:
            logger.warning(
                "fire of run %s: %d notification(s) of unfinished user %s not "
                "stored; a re-run of the slot delivers that user again",
                self.run_id,
                len(self._current_rows),
                self._current,
            )
        self._current, self._current_rows = None, []
        return await self.flush()

    def _complete_current(self):
        if self._current is None:
            return
        self._done.append(self._current)
        self._done_set.add(self._current)
        self._held += self._current_rows
        self._current, self._current_rows = None, []


def record_delivered(run_id, user_ids, rows):
    """Store ``rows`` (notification_row dicts of those users) and the delivery of
    ``user_ids`` to the slot of ``run_id`` in one transaction, on Django's
    connection; return how many users. Raises NotifyUnavailable."""
    if not user_ids:
        return 0
    return run_on_django(_record(run_id, list(user_ids), rows), translated)


def delivered_among(run_id, user_ids):
    """Return the set of ``user_ids`` the slot of ``run_id`` was delivered to
    (Django's connection). Raises NotifyUnavailable."""
    if not user_ids:
        return set()
    return set(run_on_django(_delivered(run_id, user_ids), translated))


def delivered_count(run_id):
    """Return how many users the slot of ScheduleRun ``run_id`` was delivered to."""
    return Delivery.objects.filter(run_id=run_id).count()


def _record(run_id, user_ids, rows):
    yield BEGIN
    yield from insert_rows(rows)
    if connection.vendor == "postgresql":  # one statement text for any batch
        sql = f"INSERT INTO {TABLE} (run_id, user_id) {_UNNEST} ON CONFLICT DO NOTHING"
        yield (sql, [run_id, list(user_ids)])
    else:
        values = ", ".join(["(%s, %s)"] * len(user_ids))
        params = [value for user_id in user_ids for value in (run_id, user_id)]
        yield (
            f"INSERT INTO {TABLE} (run_id, user_id) VALUES {values} "
            "ON CONFLICT DO NOTHING",
            params,
        )
    yield COMMIT
    return len(user_ids)


_UNNEST = "SELECT %s, user_id FROM unnest(%s::text[]) AS u(user_id)"


def _delivered(run_id, user_ids):
    if connection.vendor == "postgresql":
        sql = f"SELECT user_id FROM {TABLE} WHERE run_id = %s AND user_id = ANY(%s)"
        rows = yield (sql, [run_id, list(user_ids)])
    else:
        marks = ", ".join(["%s"] * len(user_ids))
        sql = f"SELECT user_id FROM {TABLE} WHERE run_id = %s AND user_id IN ({marks})"
        rows = yield (sql, [run_id, *user_ids])
    return [row[0] for row in rows]
