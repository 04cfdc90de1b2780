"""ctx.ai's provider calls are outbound calls like any other: through the egress guard,
recorded, counted in the extension's rate; the provider's host opened to ctx.ai only."""

import time

import pytest
from django.core.cache import caches

from apps.ai.models import AICall, Status
from apps.common.ratelimit import window_key
from apps.egress.errors import EgressRateLimited, EgressRefused
from apps.egress.limits import RATE_KEY_PREFIX
from apps.egress.models import OutboundCall
from apps.egress.records import recorder

from .conftest import APP, call
from .test_complete import PROMPT, raised

# The OutboundCall writer stores rows on its own connection: no test transaction.
pytestmark = pytest.mark.django_db(transaction=True)


def test_the_provider_call_goes_through_the_egress_guard_and_is_recorded(
    provider, probe, alice, settings
):
    # Loopback is refused to extensions unless the operator allows it; the
    # provider's own host is the operator's choice, and allowed for ctx.ai only.
    settings.IMPERAL_EGRESS_PUBLIC = False
    assert recorder.flush()
    OutboundCall.objects.all().delete()
    call("suggest", prompt=PROMPT)

    assert recorder.flush()
    outbound = OutboundCall.objects.get(app_id=APP)
    assert (outbound.host, outbound.port, outbound.status) == (
        "127.0.0.1",
        provider.port,
        200,
    )
    assert (outbound.method, outbound.user_id, outbound.outcome) == (
        "POST",
        "alice",
        "ok",
    )
    assert outbound.bytes_out > 0 and outbound.bytes_in > 0


def test_the_providers_host_is_not_opened_to_the_extensions_ctx_http(
    provider, probe, alice
):
    error = raised("fetch", url=f"{provider.base_url}/chat/completions")
    assert isinstance(error, EgressRefused)
    assert provider.requests == []


def test_the_extensions_egress_rate_counts_its_model_calls(
    provider, probe, alice, settings
):
    settings.IMPERAL_EGRESS_RATE = "1/day"
    key, _ = window_key(RATE_KEY_PREFIX, APP, 86400, time.time())
    caches["default"].delete(key)  # a fresh window, whatever ran before
    call("suggest", prompt=PROMPT)
    error = raised("suggest", prompt=PROMPT)
    assert isinstance(error, EgressRateLimited)
    assert len(provider.requests) == 1
    assert list(AICall.objects.order_by("id").values_list("status", "error_code")) == [
        (Status.OK, ""),
        (Status.REFUSED, "rate_limited"),
    ]
