"""Rate limits: of N+1 requests at once over a limit of N, exactly N get through.

Real concurrency: threads released together by a barrier, against real
Redis (the production counter), against the lock-file counter on a file
cache (the embedded default), and end to end against a live server.
"""

import json
import threading
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.cache import caches
from django.core.cache.backends.filebased import FileBasedCache

from apps.api import throttling
from apps.api.throttling import LockedCacheCounter, RedisCounter

from .conftest import token_for

LIMIT = 10


def race(count, work):
    """Run ``work()`` in ``count`` threads released at once; return the results."""
    barrier = threading.Barrier(count)

    def run():
        barrier.wait()
        return work()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return [f.result() for f in [pool.submit(run) for _ in range(count)]]


def counted_within_limit(counter, key):
    return counter.incr(key, 60) <= LIMIT


@pytest.mark.redis
def test_the_redis_counter_lets_exactly_n_of_n_plus_one_through():
    counter = RedisCounter(caches["default"])
    key = f"test-throttle:{uuid.uuid4().hex}"
    results = race(LIMIT + 1, lambda: counted_within_limit(counter, key))
    assert results.count(True) == LIMIT and results.count(False) == 1
    client = caches["default"].client.get_client()
    stored = caches["default"].make_key(key)
    assert int(client.get(stored)) == LIMIT + 1
    assert 0 < client.ttl(stored) <= 60
    client.delete(stored)


def test_the_lock_file_counter_lets_exactly_n_of_n_plus_one_through(tmp_path):
    cache = FileBasedCache(str(tmp_path / "cache"), {})
    counter = LockedCacheCounter(cache, tmp_path / "throttle.lock")
    results = race(LIMIT + 1, lambda: counted_within_limit(counter, "k"))
    assert results.count(True) == LIMIT and results.count(False) == 1
    assert cache.get("k") == LIMIT + 1


@pytest.mark.parametrize(
    "rate, parsed",
    [("600/min", (600, 60)), ("5/s", (5, 1)), ("100/day", (100, 86400)), ("", None)],
)
def test_rates_parse(rate, parsed):
    assert throttling.parse_rate(rate) == parsed


@pytest.mark.parametrize("rate", ["600", "x/min", "10/fortnight"])
def test_a_malformed_rate_names_the_setting(rate):
    with pytest.raises(Exception, match="IMPERAL_API_RATES"):
        throttling.parse_rate(rate)


@pytest.fixture
def limited(settings, monkeypatch):
    """A limit of LIMIT per minute, counted under a key prefix of this test's own."""
    settings.IMPERAL_API_RATES = {"user": f"{LIMIT}/min"}
    monkeypatch.setattr(
        throttling.TokenRateThrottle, "key_prefix", f"t-{uuid.uuid4().hex}"
    )
    throttling.reset_counters()
    yield
    throttling.reset_counters()


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_live_server_lets_exactly_n_concurrent_requests_through(
    live_server, alice, limited
):
    token = token_for(alice)

    def get():
        request = urllib.request.Request(
            f"{live_server.url}/api/v1/notifications",
            headers={"Authorization": f"Token {token}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, None, json.load(response)
        except urllib.error.HTTPError as refused:
            return refused.code, refused.headers.get("Retry-After"), json.load(refused)

    answers = race(LIMIT + 1, get)
    statuses = sorted(status for status, _, _ in answers)
    assert statuses == [200] * LIMIT + [429]
    _, retry_after, body = next(a for a in answers if a[0] == 429)
    assert body["error"]["code"] == "throttled"
    assert f"{LIMIT}/min" in body["error"]["message"]
    assert 1 <= int(retry_after) <= 60
