"""ctx.http's bounds besides timeouts: a rate per extension, connection slots per
extension and process, and the response size cap (settings read per call)."""

import asyncio
import collections
import contextlib
import logging
import threading
import time

from django.conf import settings

from apps.common import ratelimit
from apps.quotas import counters
from apps.quotas import limits as quota_limits

from .errors import EgressBusy, EgressRateLimited

logger = logging.getLogger(__name__)

RATE_SETTING = "IMPERAL_EGRESS_RATE"
CALLS_KIND = "egress.calls"
RATE_KEY_PREFIX = "egress-rate"


def max_response_bytes():
    """Return the largest response body ctx.http reads (IMPERAL_EGRESS_MAX_RESPONSE_BYTES)."""
    return settings.IMPERAL_EGRESS_MAX_RESPONSE_BYTES


def rate_limit():
    """Return IMPERAL_EGRESS_RATE as (calls, seconds), or None for no limit.

    Raises ImproperlyConfigured naming the setting when it is malformed.
    """
    return ratelimit.parse_rate(getattr(settings, RATE_SETTING, None), RATE_SETTING)


def check_rate_setting():
    """Raise ImproperlyConfigured when IMPERAL_EGRESS_RATE is malformed; else None."""
    rate_limit()


def take_rate(app_id, host, timer=time.time):
    """Count one outbound call of ``app_id`` in its window; return None.

    Raises EgressRateLimited (naming the limit and ``host``) past
    IMPERAL_EGRESS_RATE. The limit protects third parties, not the platform's
    own service: when the counter's cache fails the call goes (and a warning
    is logged).
    """
    limit = rate_limit()
    if limit is None:
        return
    requests, seconds = limit
    key, retry_after = ratelimit.window_key(RATE_KEY_PREFIX, app_id, seconds, timer())
    try:
        allowed = permits.take(app_id, key, requests, seconds + 1)
    except Exception as exc:
        logger.warning(
            "ctx.http rate of %s not counted (cache failed): %s", app_id, exc
        )
        return
    if not allowed:
        raise EgressRateLimited(
            f"ctx.http refused the call to {host} for extension {app_id!r}: more than "
            f"{settings.IMPERAL_EGRESS_RATE} outbound calls (rule rate, "
            f"{RATE_SETTING}); retry in {retry_after:.0f} s",
            host=host,
            retry_after=retry_after,
        )


async def take_user_quota(partition):
    """Count one outbound call in ``partition``'s minute against its
    ``egress.calls`` quota (apps.quotas); return None.

    Raises QuotaExceeded (429) past it. Checked before the extension-wide
    rate, so a user over their own quota spends none of the extension's permits.
    """
    if not quota_limits.table.fresh():
        await quota_limits.arefresh()
    counters.charge_minute(CALLS_KIND, partition)


class RatePermits:
    """Permits of each extension's current window, taken from the shared atomic
    counter a lease at a time, so most calls cost no round trip.

    A lease is 1/LEASE_DIVISOR of the limit (at least one): the counter never
    grants more than the limit across every process, and a process can hold at
    most a lease's worth unused when its window ends.
    """

    lease_divisor = 100

    def __init__(self):
        self._lock = threading.Lock()
        self._held = {}  # app id -> (window key, permits left)

    def take(self, app_id, key, requests, ttl_seconds):
        """Return whether one more call of ``app_id`` fits in window ``key``."""
        with self._lock:
            held_key, left = self._held.get(app_id, (key, 0))
            if held_key == key and left > 0:
                self._held[app_id] = (key, left - 1)
                return True
        lease = max(1, requests // self.lease_divisor)
        count = ratelimit.counter_for().incr(key, ttl_seconds, lease)
        granted = max(0, min(lease, requests - (count - lease)))
        if not granted:
            return False
        with self._lock:
            held_key, left = self._held.get(app_id, (key, 0))
            left = left if held_key == key else 0
            self._held[app_id] = (key, left + granted - 1)
        return True

    def forget(self):
        """Drop every held permit (tests change the limit or the cache)."""
        with self._lock:
            self._held.clear()


permits = RatePermits()


class ConnectionSlots:
    """At most IMPERAL_EGRESS_MAX_CONNECTIONS calls of one extension at once in this
    process, whichever event loop or thread they run on; the rest wait their turn."""

    def __init__(self):
        self._lock = threading.Lock()
        self._busy = collections.Counter()
        self._waiting = collections.defaultdict(collections.deque)

    @contextlib.asynccontextmanager
    async def slot(self, app_id, host, timeout):
        """Hold one of ``app_id``'s slots for the block.

        Waits at most ``timeout`` seconds for one, then raises EgressBusy.
        """
        await self._acquire(app_id, host, timeout)
        try:
            yield
        finally:
            self.release(app_id)

    def busy(self, app_id):
        """Return how many slots of ``app_id`` are held."""
        return self._busy[app_id]

    async def _acquire(self, app_id, host, timeout):
        limit = settings.IMPERAL_EGRESS_MAX_CONNECTIONS
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._busy[app_id] < limit:
                self._busy[app_id] += 1
                return
            granted = loop.create_future()
            self._waiting[app_id].append((loop, granted))
        try:
            await asyncio.wait_for(granted, timeout)
        except asyncio.CancelledError:
            if granted.done() and not granted.cancelled():  # granted, then cancelled
                self.release(app_id)
            raise
        except TimeoutError:
            with self._lock:
                with contextlib.suppress(ValueError):
                    self._waiting[app_id].remove((loop, granted))
            raise EgressBusy(
                f"ctx.http gave up on the call to {host} for extension {app_id!r}: "
                f"its {limit} connections (IMPERAL_EGRESS_MAX_CONNECTIONS) stayed "
                f"busy for {timeout} s",
                rule="connections",
                host=host,
            ) from None

    def release(self, app_id):
        """Give a slot of ``app_id`` back: to the longest waiter, else free it."""
        with self._lock:
            waiting = self._waiting[app_id]
            while waiting:  # the slot passes on; the busy count stays
                loop, granted = waiting.popleft()
                try:
                    loop.call_soon_threadsafe(self._grant, app_id, granted)
                except RuntimeError:  # that waiter's event loop has closed
                    continue
                return
            self._busy[app_id] -= 1

    def _grant(self, app_id, granted):
        if granted.cancelled():  # its wait ended first: pass the slot on again
            self.release(app_id)
        else:
            granted.set_result(None)


slots = ConnectionSlots()
