"""The egress.calls quota: each user's outbound calls per minute, before the
extension-wide rate, against a live server; refused calls are recorded and
never reach it; made calls add up in the user's daily usage figure."""

import asyncio

import pytest

from apps.accounts.partition import Partition
from apps.common import ratelimit
from apps.quotas import counters
from apps.quotas.errors import QuotaExceeded

from .conftest import calls_of, run

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def allowed(upstream, allow):
    allow(f"127.0.0.1:{upstream.port}")
    return upstream


def test_a_user_gets_exactly_their_calls_per_minute(allowed, http, settings, app_id):
    ratelimit.reset_counters()
    settings.IMPERAL_EGRESS_RATE = "100/min"
    settings.IMPERAL_QUOTAS = {app_id: {"egress.calls": 3}}
    client = http()

    async def five_at_once():
        calls = [client.get(allowed.url("/json")) for _ in range(5)]
        return await asyncio.gather(*calls, return_exceptions=True)

    results = run(five_at_once())

    assert sum(getattr(r, "status_code", None) == 200 for r in results) == 3
    refused = [r for r in results if isinstance(r, QuotaExceeded)]
    assert len(refused) == 2
    assert refused[0].quota["kind"] == "egress.calls"
    assert refused[0].quota["limit"] == 3 and refused[0].status == 429
    assert len(allowed.requests) == 3  # the refused never left
    made = calls_of(app_id)
    assert sorted((c.outcome, c.rule) for c in made) == [
        ("ok", ""),
        ("ok", ""),
        ("ok", ""),
        ("rate_limited", "quota"),
        ("rate_limited", "quota"),
    ]
    alice = Partition("default", app_id, "alice")
    assert counters.usage("egress.calls", alice) == 3  # made calls, today
    assert run(http(user="bob").get(allowed.url("/json"))).status_code == 200
