"""Fixed-window counters, counted atomically on a Django cache (one home for every
rate limit: the API's per-token throttle, ctx.http's per-extension rate).

Every request is one atomic increment of its window's counter, and the
increment's result decides: of N+1 concurrent requests over a limit of N,
exactly N see a count within it (a read-then-write history, like DRF's stock
throttle, lets two concurrent requests both pass).

- Redis (django-redis): one Lua script runs ``INCR`` and, on the window's
  first request, ``EXPIRE`` — atomic on the server, one round trip.
- Any other cache (the embedded file cache): ``cache.add`` then ``cache.incr``
  under an exclusive ``flock`` on a lock file beside the cache, which
  serializes every process and thread of this machine.
"""

import fcntl
import os
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured

CACHE_ALIAS = "default"
PERIODS = {"s": 1, "sec": 1, "min": 60, "m": 60, "hour": 3600, "h": 3600}
PERIODS.update({"day": 86400, "d": 86400})

_INCR_WITH_EXPIRY = """
local count = redis.call('INCRBY', KEYS[1], ARGV[2])
if count == tonumber(ARGV[2]) then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return count
"""


def parse_rate(rate, setting):
    """Return (requests, seconds) of a rate like "600/min"; None for no limit.

    Raises ImproperlyConfigured naming ``setting`` for a malformed rate.
    """
    if rate in (None, ""):
        return None
    number, _, period = str(rate).partition("/")
    if not number.strip().isdigit() or period.strip() not in PERIODS:
        raise ImproperlyConfigured(
            f"{setting} rates look like '600/min' (periods: "
            f"{', '.join(PERIODS)}), got {rate!r:.40}"
        )
    return int(number), PERIODS[period.strip()]


def window_key(prefix, ident, seconds, now):
    """Return (key, seconds left in the window) of ``ident``'s window at ``now``."""
    window = int(now // seconds)
    return f"{prefix}:{ident}:{seconds}:{window}", seconds - (now % seconds)


class RedisCounter:
    """Window counters on a django-redis cache: INCR + EXPIRE in one Lua script."""

    def __init__(self, cache):
        self.cache = cache
        self.script = None

    def incr(self, key, ttl_seconds, amount=1):
        """Return the counter's value after adding ``amount`` (``amount`` on a new
        window)."""
        client = self.cache.client.get_client(write=True)
        if self.script is None:
            self.script = client.register_script(_INCR_WITH_EXPIRY)
        return int(
            self.script(
                keys=[self.cache.make_key(key)],
                args=[ttl_seconds, amount],
                client=client,
            )
        )


class LockedCacheCounter:
    """Window counters on any Django cache, serialized by a lock file (one machine)."""

    def __init__(self, cache, lock_path):
        self.cache = cache
        self.lock_path = Path(lock_path)

    def incr(self, key, ttl_seconds, amount=1):
        """Return the counter's value after adding ``amount`` (``amount`` on a new
        window)."""
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            self.cache.add(key, 0, timeout=ttl_seconds)
            try:
                return self.cache.incr(key, amount)
            except ValueError:  # expired between add and incr
                self.cache.set(key, amount, timeout=ttl_seconds)
                return amount
        finally:
            os.close(fd)  # closing the descriptor releases the lock


@lru_cache(maxsize=4)
def counter_for(alias=CACHE_ALIAS):
    """Return the atomic window counter for cache ``alias`` (one per process)."""
    cache = caches[alias]
    if type(cache).__module__.startswith("django_redis"):
        return RedisCounter(cache)
    return LockedCacheCounter(cache, Path(settings.VAR_DIR) / "cache" / "throttle.lock")


def reset_counters():
    """Forget the counters (tests change CACHES)."""
    counter_for.cache_clear()
