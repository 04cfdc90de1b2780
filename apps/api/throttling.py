"""Rate limits per API token, and per client address for webhooks: a fixed window
counted atomically on the "default" cache.

DRF's stock SimpleRateThrottle reads a request history, then writes it back:
two requests at once both read the same history and both pass. Here every
request is one atomic increment of its window's counter, and the increment's
result decides: of N+1 concurrent requests over a limit of N, exactly N see a
count within it.

- Redis (django-redis): one Lua script runs ``INCR`` and, on the window's
  first request, ``EXPIRE`` — atomic on the server, one round trip.
- Any other cache (the embedded file cache): ``cache.add`` then ``cache.incr``
  under an exclusive ``flock`` on a lock file beside the cache, which
  serializes every process and thread of this machine.
"""

import fcntl
import ipaddress
import logging
import os
import time
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured
from rest_framework.exceptions import Throttled
from rest_framework.throttling import BaseThrottle

logger = logging.getLogger(__name__)

CACHE_ALIAS = "default"
RATES_SETTING = "IMPERAL_API_RATES"
PERIODS = {"s": 1, "sec": 1, "min": 60, "m": 60, "hour": 3600, "h": 3600}
PERIODS.update({"day": 86400, "d": 86400})
IPV6_CLIENT_PREFIX = 64

_INCR_WITH_EXPIRY = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return count
"""


def parse_rate(rate):
    """Return (requests, seconds) of a rate like "600/min"; None for no limit.

    Raises ImproperlyConfigured naming IMPERAL_API_RATES for a malformed rate.
    """
    if rate in (None, ""):
        return None
    number, _, period = str(rate).partition("/")
    if not number.strip().isdigit() or period.strip() not in PERIODS:
        raise ImproperlyConfigured(
            f"{RATES_SETTING} rates look like '600/min' (periods: "
            f"{', '.join(PERIODS)}), got {rate!r:.40}"
        )
    return int(number), PERIODS[period.strip()]


class RedisCounter:
    """Window counters on a django-redis cache: INCR + EXPIRE in one Lua script."""

    def __init__(self, cache):
        self.cache = cache
        self.script = None

    def incr(self, key, ttl_seconds):
        """Return the counter's value after adding one (1 on a new window)."""
        client = self.cache.client.get_client(write=True)
        if self.script is None:
            self.script = client.register_script(_INCR_WITH_EXPIRY)
        return int(
            self.script(
                keys=[self.cache.make_key(key)], args=[ttl_seconds], client=client
            )
        )


class LockedCacheCounter:
    """Window counters on any Django cache, serialized by a lock file (one machine)."""

    def __init__(self, cache, lock_path):
        self.cache = cache
        self.lock_path = Path(lock_path)

    def incr(self, key, ttl_seconds):
        """Return the counter's value after adding one (1 on a new window)."""
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            self.cache.add(key, 0, timeout=ttl_seconds)
            try:
                return self.cache.incr(key)
            except ValueError:  # expired between add and incr
                self.cache.set(key, 1, timeout=ttl_seconds)
                return 1
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


class TokenRateThrottle(BaseThrottle):
    """IMPERAL_API_RATES["user"] per API token (per user for a session).

    DRF checks throttles after permissions, so only authenticated requests
    that a route allows are counted.
    """

    timer = staticmethod(time.time)
    key_prefix = "api-throttle"

    scope = "user"

    def allow_request(self, request, view):
        ident = self.identity(request)
        limit = parse_rate(getattr(settings, RATES_SETTING, {}).get(self.scope))
        if ident is None or limit is None:
            return True
        requests, seconds = limit
        now = self.timer()
        window = int(now // seconds)
        self.retry_after = seconds - (now % seconds)
        key = f"{self.key_prefix}:{ident}:{seconds}:{window}"
        try:
            count = counter_for().incr(key, seconds + 1)
        except Exception as exc:  # the limit is protection, not the service itself
            logger.warning("API rate limit not counted (cache failed): %s", exc)
            return True
        if count <= requests:
            return True
        view.throttle_refusal = (self.scope, settings.IMPERAL_API_RATES[self.scope])
        return False

    def identity(self, request):
        """Return what the request is counted under: its token, else its session's
        user; None when it has neither."""
        token = getattr(request, "auth", None)
        if getattr(token, "pk", None) is not None:
            return f"token:{token.pk}"
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return f"user:{user.pk}"
        return None

    def wait(self):
        return getattr(self, "retry_after", None)


class ClientAddressThrottle(TokenRateThrottle):
    """IMPERAL_API_RATES["webhook"] per client address, credentials or none.

    The address is the connection's, or with REST_FRAMEWORK["NUM_PROXIES"]
    (IMPERAL_NUM_PROXIES) the one that many proxies saw (DRF's get_ident). An
    IPv6 client is counted per /64, the block one subscriber is given.
    """

    key_prefix = "client-throttle"
    scope = "webhook"

    def identity(self, request):
        """Return the client's address, an IPv6 one as its /64 network."""
        ident = self.get_ident(request) or ""
        try:
            address = ipaddress.ip_address(ident)
        except ValueError:
            return f"addr:{ident[:64]}"
        if address.version == 6:
            network = ipaddress.ip_network(f"{address}/{IPV6_CLIENT_PREFIX}", False)
            return f"net:{network}"
        return f"addr:{address}"


def refusal(view, wait):
    """Return the Throttled error (429 with Retry-After) for a request a throttle
    of ``view`` refused, naming the limit and its setting."""
    seconds = max(1, int(wait or 1))
    scope, rate = getattr(view, "throttle_refusal", ("user", "?"))
    return Throttled(
        wait=seconds,
        detail=f"too many requests: the limit is {rate} ({RATES_SETTING}"
        f"[{scope!r}]); retry in {seconds} s",
    )
