"""A test clock the harness moves by hand, and ctx.cache expiry that follows it."""

import datetime


class TestClock:
    """An aware UTC time that only moves when :meth:`advance` is called."""

    __test__ = False  # not a pytest test class

    def __init__(self, start=None):
        self._now = start or datetime.datetime.now(datetime.UTC)

    def now(self):
        """Return the current test time (an aware UTC datetime)."""
        return self._now

    def timestamp(self):
        """Return the current test time as seconds since the epoch."""
        return self._now.timestamp()

    def advance(self, seconds):
        """Move the clock ``seconds`` forward; return the new time.

        Raises ValueError for a negative or non-numeric ``seconds``: time in a
        test only moves forward, as it does for the cache.
        """
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):
            raise TypeError(f"advance: seconds must be a number, got {seconds!r}")
        if seconds < 0:
            raise ValueError(f"advance: seconds must be >= 0, got {seconds!r}")
        self._now += datetime.timedelta(seconds=seconds)
        return self._now


class CacheClock:
    """Bind a CacheCore's notion of time to a TestClock.

    A backend's ``clock`` tunable (the embedded backend's expiry, the Redis
    backend's bookkeeping) reads the test clock. Redis itself expires keys by
    its own clock, which no client can move: advancing shortens the TTL of
    this test's keys by the same amount instead (deleting those whose TTL
    runs out), which is what the passing of that time would have done to them.
    """

    def __init__(self, core, clock):
        self.core = core
        self.clock = clock
        core.clock = clock.now  # the envelope's cached_at
        if hasattr(core.backend, "clock"):
            core.backend.clock = clock.timestamp

    def advance(self, seconds):
        """Advance the test clock and let ``seconds`` pass for the cache's entries."""
        self.clock.advance(seconds)
        if self.core.backend.name == "redis":
            self._shorten_redis_ttls(int(seconds * 1000))

    def _shorten_redis_ttls(self, milliseconds):
        client = self.core.backend.client
        pattern = f"{self.core.key_prefix}:*"
        for key in client.scan_iter(match=pattern, count=500):
            left = client.pttl(key)
            if left < 0:  # gone already, or no expiry (not a ctx.cache entry)
                continue
            if left <= milliseconds:
                client.delete(key)
            else:
                client.pexpire(key, left - milliseconds)
