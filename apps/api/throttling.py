"""Rate limits per API token, and per client address for webhooks: a fixed window
counted atomically on the "default" cache.

The counters and their atomicity (Redis Lua, or a lock file on the embedded
cache) live in apps.common.ratelimit; this module is DRF's face of them.
"""

import ipaddress
import logging
import time

from django.conf import settings
from rest_framework.exceptions import Throttled
from rest_framework.throttling import BaseThrottle

from apps.common import ratelimit
from apps.common.ratelimit import (  # noqa: F401 (the API's names for them)
    LockedCacheCounter,
    RedisCounter,
    counter_for,
    reset_counters,
)

logger = logging.getLogger(__name__)

RATES_SETTING = "IMPERAL_API_RATES"
IPV6_CLIENT_PREFIX = 64


def parse_rate(rate):
    """Return (requests, seconds) of a rate like "600/min"; None for no limit.

    Raises ImproperlyConfigured naming IMPERAL_API_RATES for a malformed rate.
    """
    return ratelimit.parse_rate(rate, RATES_SETTING)


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
        key, self.retry_after = ratelimit.window_key(
            self.key_prefix, ident, seconds, self.timer()
        )
        try:
            count = ratelimit.counter_for().incr(key, seconds + 1)
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
