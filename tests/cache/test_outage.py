"""Backend outages: reads miss, writes are skipped, both counted and logged; mistakes raise.

The Redis tests run a redis-server of their own on a spare loopback port,
stop it and start it again on the same port; the machine's Redis is never
touched.
"""

import os
import shutil
import signal
import socket
import subprocess
import threading
import time

import pytest
from asgiref.sync import async_to_sync
from prometheus_client import REGISTRY

from apps.cache.core import get_core
from tests.fixtures.extensions.cache_probe import DashboardView, ResourceSummary

from .conftest import context, partition

SUMMARY = ResourceSummary(total=3, active=2, last_id="doc_1")
PASSWORD = "s3cret-not-for-logs"
# As settings.py configures the extcache alias (the embedded pass has none).
SHORT_TIMEOUTS = {"SOCKET_CONNECT_TIMEOUT": 0.25, "SOCKET_TIMEOUT": 0.25}
# What a call to a Redis that never answers may cost, and how long a test
# waits for one before calling it blocked.
OUTAGE_MAX_SECONDS = 1.0
BLOCKED_AFTER_SECONDS = 5.0


def run(func, *args, **kwargs):
    return async_to_sync(func)(*args, **kwargs)


def errors(op, backend):
    value = REGISTRY.get_sample_value(
        "imperal_cache_backend_errors_total", {"op": op, "backend": backend}
    )
    return value or 0


def spare_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class OwnRedis:
    """A throwaway redis-server on 127.0.0.1:``port``, no persistence."""

    def __init__(self, binary, port):
        self.binary, self.port, self.process = binary, port, None

    def start(self):
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1"]
            + ["--save", "", "--appendonly", "no", "--requirepass", PASSWORD],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def pause(self):
        """Freeze the server: it keeps its port and accepts, but never answers."""
        self.process.send_signal(signal.SIGSTOP)

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)  # a frozen one ignores SIGTERM
            self.process.terminate()
            self.process.wait(10)


@pytest.fixture
def own_redis():
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("IMPERAL_TEST_REQUIRE_SERVICES") == "1":
            pytest.fail("redis-server is required on this run and is not on PATH")
        pytest.skip("redis-server is not on PATH")
    server = OwnRedis(binary, spare_port())
    server.start()
    yield server
    server.stop()


def redis_cache_at(settings, port, password=PASSWORD):
    """Point IMPERAL_CACHE at a django-redis alias for 127.0.0.1:``port``."""
    settings.CACHES = {
        **settings.CACHES,
        "extcache_outage": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"redis://:{password}@127.0.0.1:{port}/0",
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                **SHORT_TIMEOUTS,
            },
        },
    }
    settings.IMPERAL_CACHE = {
        "BACKEND": "apps.cache.backends.redis",
        "OPTIONS": {"alias": "extcache_outage"},
        "KEY_PREFIX": "outage:ext",
    }


def _timed(func, *args):
    started = time.monotonic()
    result = run(func, *args)
    return result, time.monotonic() - started


@pytest.mark.slow
def test_a_redis_outage_serves_misses_and_recovers_without_a_restart(
    own_redis, settings, ext, caplog
):
    redis_cache_at(settings, own_redis.port)
    cache = context(ext, "alice").cache
    run(cache.set, "summary", SUMMARY)
    assert run(cache.get, "summary", ResourceSummary) == SUMMARY

    own_redis.stop()
    before = {op: errors(op, "redis") for op in ("get", "set", "delete", "list")}
    got, elapsed = _timed(cache.get, "summary", ResourceSummary)
    assert got is None
    assert elapsed < 0.5
    run(cache.set, "summary", SUMMARY)
    run(cache.delete, "summary")
    fresh = DashboardView(spend_today=1.0, clicks=2, active_campaigns=3)

    async def fetcher():
        return fresh

    assert run(cache.get_or_fetch, "dashboard", DashboardView, fetcher) is fresh
    assert get_core().list_entries(partition("alice")) == []
    assert {op: errors(op, "redis") - n for op, n in before.items()} == {
        "get": 2,
        "set": 2,
        "delete": 1,
        "list": 1,
    }
    assert "get for cache-probe skipped: redis backend unavailable" in caplog.text
    assert PASSWORD not in caplog.text
    with pytest.raises(ValueError, match="I-CACHE-KEY-SAFETY"):
        run(cache.set, "bad key", SUMMARY)

    own_redis.start()
    assert run(cache.get_or_fetch, "dashboard", DashboardView, fetcher) is fresh
    assert run(cache.get, "dashboard", DashboardView) == fresh
    run(cache.set, "summary", SUMMARY)
    assert run(cache.get, "summary", ResourceSummary) == SUMMARY


def test_a_redis_that_is_not_there_costs_milliseconds(settings, ext, client):
    redis_cache_at(settings, spare_port())
    cache = context(ext, "alice").cache
    before = errors("get", "redis")
    got, elapsed = _timed(cache.get, "summary", ResourceSummary)
    assert (got, errors("get", "redis") - before) == (None, 1)
    assert elapsed < 0.5
    run(cache.set, "summary", SUMMARY)
    metrics = client.get("/metrics").content.decode()
    assert 'imperal_cache_backend_errors_total{backend="redis",op="get"}' in metrics


def unusable_embedded_cache(settings, tmp_path):
    """Point the embedded backend at a file under a path that is not a directory."""
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    settings.IMPERAL_CACHE = {
        "BACKEND": "apps.cache.backends.embedded",
        "OPTIONS": {"path": str(blocker / "extcache.sqlite3")},
        "KEY_PREFIX": "outage:ext",
    }


def test_an_unusable_embedded_file_serves_misses(settings, tmp_path, ext, caplog):
    unusable_embedded_cache(settings, tmp_path)
    cache = context(ext, "alice").cache
    before = errors("set", "embedded")
    run(cache.set, "summary", SUMMARY)
    assert run(cache.get, "summary", ResourceSummary) is None
    fetched = run(cache.get_or_fetch, "summary", ResourceSummary, lambda: SUMMARY)
    assert fetched == SUMMARY
    assert errors("set", "embedded") - before == 2
    assert "embedded backend unavailable" in caplog.text


def deployed_alias_at(settings, port, password=""):
    """Point IMPERAL_CACHE at the deployed extcache alias, moved to 127.0.0.1:``port``.

    Only LOCATION changes: the alias keeps the OPTIONS (timeouts) settings.py gave it.
    """
    settings.CACHES = {
        **settings.CACHES,
        "extcache_moved": {
            **settings.CACHES["extcache"],
            "LOCATION": f"redis://:{password}@127.0.0.1:{port}/0",
        },
    }
    settings.IMPERAL_CACHE = {
        "BACKEND": "apps.cache.backends.redis",
        "OPTIONS": {"alias": "extcache_moved"},
        "KEY_PREFIX": "outage:ext",
    }


def bounded(func, *args):
    """Return (result, seconds) of ``run(func, *args)``, run on a thread.

    Fails the test when the call is still blocked after BLOCKED_AFTER_SECONDS
    (a Redis alias without timeouts would wait forever).
    """
    outcome = {}

    def call():
        started = time.monotonic()
        try:
            outcome["result"] = run(func, *args)
        except BaseException as exc:  # re-raised on the test's thread
            outcome["error"] = exc
        outcome["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    thread.join(BLOCKED_AFTER_SECONDS)
    if thread.is_alive():
        pytest.fail(f"{func.__name__} still blocked after {BLOCKED_AFTER_SECONDS}s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"], outcome["seconds"]


@pytest.fixture
def unanswered_port():
    """Return a loopback port whose listen queue is full: a connect there hangs."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port, fillers = listener.getsockname()[1], []
    while len(fillers) < 16:
        try:
            socket.create_connection(("127.0.0.1", port), 0.1).close()
        except TimeoutError:
            break
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    else:
        pytest.fail("could not fill the listen queue of a loopback port")
    yield port
    for sock in [*fillers, listener]:
        sock.close()


@pytest.mark.redis
@pytest.mark.slow
def test_the_deployed_alias_bounds_calls_to_a_redis_that_stopped_answering(
    own_redis, settings, ext
):
    deployed_alias_at(settings, own_redis.port, PASSWORD)
    cache = context(ext, "alice").cache
    run(cache.set, "summary", SUMMARY)
    own_redis.pause()
    before = {op: errors(op, "redis") for op in ("get", "set")}
    got, get_seconds = bounded(cache.get, "summary", ResourceSummary)
    _, set_seconds = bounded(cache.set, "summary", SUMMARY)
    assert got is None
    assert {op: errors(op, "redis") - n for op, n in before.items()} == {
        "get": 1,
        "set": 1,
    }
    # It waited on the frozen server (a read timeout), and not for long.
    for seconds in (get_seconds, set_seconds):
        assert 0.1 < seconds < OUTAGE_MAX_SECONDS


@pytest.mark.redis
def test_the_deployed_alias_bounds_a_connect_that_gets_no_answer(
    unanswered_port, settings, ext
):
    deployed_alias_at(settings, unanswered_port)
    cache = context(ext, "alice").cache
    before = errors("get", "redis")
    got, seconds = bounded(cache.get, "summary", ResourceSummary)
    assert (got, errors("get", "redis") - before) == (None, 1)
    assert 0.1 < seconds < OUTAGE_MAX_SECONDS  # a connect timeout ended it


def test_an_outage_logs_one_line_per_interval_and_counts_every_call(
    settings, tmp_path, ext, caplog
):
    unusable_embedded_cache(settings, tmp_path)
    cache = context(ext, "alice").cache
    before = errors("get", "embedded")
    for _ in range(5):
        assert run(cache.get, "summary", ResourceSummary) is None
    assert errors("get", "embedded") - before == 5
    reports = [r for r in caplog.records if "backend unavailable" in r.getMessage()]
    assert len(reports) == 1

    get_core().outage_log_interval = 0  # the interval has passed
    run(cache.get, "summary", ResourceSummary)
    reports = [r for r in caplog.records if "backend unavailable" in r.getMessage()]
    assert len(reports) == 2
    assert "; 4 more calls skipped since the last report" in reports[1].getMessage()
