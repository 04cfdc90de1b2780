"""ctx.http's bounds hold against live servers: the size cap (decoded bytes), the
per-extension rate, the connection slots, and the SDK's timeouts."""

import asyncio
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from apps.egress.errors import EgressBusy, EgressRateLimited, ResponseTooLarge
from apps.egress.limits import RatePermits, slots

from .conftest import calls_of, run

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def allowed(upstream, allow):
    allow(f"127.0.0.1:{upstream.port}")
    return upstream


def test_a_body_at_the_cap_is_read_whole(allowed, http, settings):
    settings.IMPERAL_EGRESS_MAX_RESPONSE_BYTES = 1000
    response = run(http().get(allowed.url("/bytes?n=1000")))
    assert response.body == "x" * 1000


def test_a_body_past_the_cap_fails_clearly(allowed, http, settings, app_id):
    settings.IMPERAL_EGRESS_MAX_RESPONSE_BYTES = 1000
    with pytest.raises(ResponseTooLarge) as too_large:
        run(http().get(allowed.url("/bytes?n=1001")))
    assert "passed 1000 bytes" in str(too_large.value)
    assert "IMPERAL_EGRESS_MAX_RESPONSE_BYTES" in str(too_large.value)
    assert too_large.value.host == "127.0.0.1"
    (call,) = calls_of(app_id)
    assert (call.outcome, call.error_code, call.status) == (
        "too_large",
        "response_too_large",
        None,
    )


def test_the_cap_counts_decoded_bytes_not_compressed_ones(allowed, http, settings):
    settings.IMPERAL_EGRESS_MAX_RESPONSE_BYTES = 100_000
    # ~1 KB on the wire, a million bytes once decoded: stopped at the cap.
    with pytest.raises(ResponseTooLarge):
        run(http().get(allowed.url("/gzip?n=1000000")))
    assert run(http().get(allowed.url("/gzip?n=50000"))).body == "\0" * 50_000


def test_the_rate_lets_exactly_the_limit_through_then_refuses(
    allowed, http, settings, app_id
):
    settings.IMPERAL_EGRESS_RATE = "3/min"
    client = http()

    async def five_at_once():
        calls = [client.get(allowed.url("/json")) for _ in range(5)]
        return await asyncio.gather(*calls, return_exceptions=True)

    results = run(five_at_once())
    assert sum(getattr(r, "status_code", None) == 200 for r in results) == 3
    limited = [r for r in results if isinstance(r, EgressRateLimited)]
    assert len(limited) == 2
    assert "more than 3/min outbound calls" in str(limited[0])
    assert 0 < limited[0].retry_after <= 60
    assert len(allowed.requests) == 3
    outcomes = sorted(c.outcome for c in calls_of(app_id))
    assert outcomes == ["ok", "ok", "ok", "rate_limited", "rate_limited"]


def test_the_rate_is_per_extension(allowed, http, settings, app_id):
    settings.IMPERAL_EGRESS_RATE = "1/min"
    run(http().get(allowed.url("/json")))
    with pytest.raises(EgressRateLimited):
        run(http(user="bob").get(allowed.url("/json")))


def test_calls_past_the_connection_slots_wait_their_turn(
    allowed, http, settings, app_id
):
    settings.IMPERAL_EGRESS_MAX_CONNECTIONS = 2
    client = http()

    async def six_at_once():
        calls = [client.get(allowed.url("/slow?s=0.2")) for _ in range(6)]
        return await asyncio.gather(*calls)

    assert [r.status_code for r in run(six_at_once())] == [200] * 6
    assert allowed.peak == 2
    assert slots.busy(app_id) == 0


def test_a_call_that_waits_past_its_timeout_for_a_slot_gives_up(
    allowed, http, settings, app_id
):
    settings.IMPERAL_EGRESS_MAX_CONNECTIONS = 1
    client = http()

    async def two_at_once():
        slow = asyncio.ensure_future(client.get(allowed.url("/slow?s=1")))
        await asyncio.sleep(0.1)
        with pytest.raises(EgressBusy, match="IMPERAL_EGRESS_MAX_CONNECTIONS"):
            await client.get(allowed.url("/json"), timeout=0.2)
        return await slow

    assert run(two_at_once()).status_code == 200
    assert slots.busy(app_id) == 0
    assert sorted(c.outcome for c in calls_of(app_id)) == ["busy", "ok"]


def test_the_per_call_timeout_holds(allowed, http, app_id):
    with pytest.raises(httpx.ReadTimeout):
        run(http().get(allowed.url("/slow?s=2"), timeout=0.3))
    (call,) = calls_of(app_id)
    assert (call.outcome, call.error_code) == ("timeout", "timeout")
    assert call.duration_ms < 1500


@pytest.mark.parametrize("timeout", [0, -1, 181])
def test_the_sdks_timeout_cap_is_kept(http, timeout, app_id):
    with pytest.raises(ValueError, match="timeout"):
        run(http().get("https://api.example.test/", timeout=timeout))
    assert calls_of(app_id) == []


def test_leased_permits_never_exceed_the_limit_across_processes(app_id):
    # Three processes' worth of leases over the one shared counter, under threads.
    processes = [RatePermits(), RatePermits(), RatePermits()]
    key = f"egress-rate:{app_id}:60:1"

    def take(index):
        return processes[index % 3].take(app_id, key, 250, 61)

    with ThreadPoolExecutor(max_workers=8) as pool:
        granted = list(pool.map(take, range(400)))
    assert granted.count(True) == 250
