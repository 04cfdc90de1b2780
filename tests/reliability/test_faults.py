"""Redis and PostgreSQL stopped, restarted and SIGKILLed under traffic.

Each test runs the traffic process (tests/reliability/traffic.py: in-process
ctx.store, the gateway, and tools over the user API, two clients of each)
against the private stack, injects one fault in the middle, and then reads
every key back: no acknowledged write may be lost, only the documented errors
may surface (StoreUnavailable in process, 503 ``unavailable`` over HTTP), no
call may wait past the pool timeout, and the errors stop as soon as the
server is back.
"""

import json
import time

import httpx
import pytest

from .conftest import POOL_TIMEOUT

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

SECONDS = 10.0
FAULT_AT = 3.0
OUTAGE = 2.5
OUTAGE_ERRORS = {"StoreUnavailable", "http 503 unavailable"}
# A call already in flight when the server came back may still fail.
RECOVERY_GRACE = 0.5
HANG_AFTER_MS = (POOL_TIMEOUT + 2) * 1000


def run_with_fault(stack, stop, start):
    """Run traffic; ``stop`` at FAULT_AT, ``start`` OUTAGE s later. Return report."""
    traffic = stack.traffic(seconds=SECONDS, clients=2, keys=8).wait_ready()
    time.sleep(FAULT_AT)
    down_at = time.time()
    stop()
    time.sleep(OUTAGE)
    start()
    up_at = time.time()
    report = traffic.result()
    errors_after = [t for t in report.pop("error_times") if t > up_at]
    report["recovery_s"] = round(max(errors_after, default=up_at) - up_at, 3)
    report["outage_s"] = round(up_at - down_at, 3)
    print(json.dumps(report))  # the figures RELIABILITY.md records (pytest -s)
    return report


def errors_of(report):
    kinds = {}
    for summary in report["by_kind"].values():
        kinds.update(summary["errors"])
    return kinds


def assert_survived(report):
    assert report["lost"] == 0, report["lost_examples"]
    for kind, summary in report["by_kind"].items():
        assert summary["acknowledged"] > 0, kind
        assert summary["max_ms"] < HANG_AFTER_MS, (kind, summary)


def test_a_redis_restart_under_traffic_serves_misses_never_errors(stack):
    report = run_with_fault(stack, stack.redis.stop, stack.redis.start)

    assert_survived(report)
    assert errors_of(report) == {}
    reads = report["by_kind"]["tool"]["cache_reads"]
    assert reads.get("stale", 0) == 0
    assert reads.get("miss", 0) > 0  # the outage was seen, as misses
    assert reads.get("hit", 0) > 0
    # An entry written after the restart is served from the cache.
    token = stack.api_token("rel-after-redis")
    remembered = call_tool(stack, token, "remember", key="after", value=7)
    assert remembered == {"value": 7}
    assert call_tool(stack, token, "recall", key="after") == {
        "value": 7,
        "cached": True,
    }


def test_a_postgres_restart_under_traffic_loses_no_acknowledged_write(stack):
    report = run_with_fault(stack, stack.pg.stop, stack.pg.start)

    assert_survived(report)
    assert set(errors_of(report)) <= OUTAGE_ERRORS
    assert errors_of(report)  # the outage was seen
    assert report["recovery_s"] <= RECOVERY_GRACE


def test_a_postgres_sigkill_under_traffic_loses_no_acknowledged_write(stack):
    report = run_with_fault(stack, stack.pg.kill, stack.pg.start)

    assert_survived(report)
    assert set(errors_of(report)) <= OUTAGE_ERRORS
    assert errors_of(report)
    assert report["recovery_s"] <= RECOVERY_GRACE


def call_tool(stack, token, tool, **params):
    """Call a probe tool over the user API; return its result (raise on an error)."""
    response = httpx.post(
        f"{stack.server.url}/api/v1/extensions/reliable/tools/{tool}/call",
        json={"params": params},
        headers={"Authorization": f"Token {token}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json()["result"]
