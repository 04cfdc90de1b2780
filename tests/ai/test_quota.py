"""ctx.ai under an ai.tokens quota: a call reserves its estimate before anything is
sent (the prompt's characters / 4 plus max_tokens), the provider's count settles it,
a refused call sends nothing and charges nothing, a failed one gives its tokens back,
and concurrent calls cannot pass the limit together."""

import asyncio
import threading

import pytest

from apps.accounts.partition import Partition
from apps.ai import core
from apps.ai.models import AICall
from apps.extensions.errors import HandlerFailed
from apps.quotas import counters
from apps.quotas.errors import QuotaExceeded

from .conftest import APP, call

pytestmark = pytest.mark.django_db(transaction=True)

PROMPT = "Suggest three tasks for my Monday"  # 33 characters: 9 tokens reserved
RESERVED = 9 + 50  # with max_tokens=50
USED = 13  # what the fake provider counts (6 in, 7 out)


@pytest.fixture
def limit(settings):
    def set_limit(tokens):
        settings.IMPERAL_QUOTAS = {APP: {"ai.tokens": tokens}}

    return set_limit


def used(user="alice"):
    return counters.usage("ai.tokens", Partition("default", APP, user))


def suggest(user="alice"):
    return call("suggest", user=user, prompt=PROMPT, options={"max_tokens": 50})


def test_a_call_that_fits_its_reservation_passes_and_is_settled(
    provider, probe, alice, limit
):
    limit(RESERVED)  # exactly the reservation

    assert suggest()["tokens_used"] == USED

    assert used() == USED  # the estimate replaced by the provider's count


def test_a_call_past_the_quota_sends_nothing_and_charges_nothing(
    provider, probe, alice, bob, limit
):
    limit(RESERVED + USED - 1)
    suggest()  # leaves RESERVED - 1 of the day's tokens: one short of a call
    before = (used(), AICall.objects.count(), len(provider.requests))

    with pytest.raises((QuotaExceeded, HandlerFailed)) as refused:
        suggest()

    error = refused.value
    error = getattr(error, "exc", error)
    assert isinstance(error, QuotaExceeded)
    assert error.quota["kind"] == "ai.tokens" and error.status == 429
    assert (error.quota["limit"], error.quota["usage"]) == (RESERVED + USED - 1, USED)
    assert (used(), AICall.objects.count(), len(provider.requests)) == before
    assert suggest(user="bob")["tokens_used"] == USED  # bob's day is his own


def test_a_failed_call_gives_its_reservation_back(provider, probe, alice, limit):
    limit(RESERVED)
    provider.status = 500

    with pytest.raises(HandlerFailed):
        suggest()

    assert used() == 0
    provider.status = 200
    assert suggest()["tokens_used"] == USED


def test_concurrent_calls_cannot_pass_the_limit_together(provider, probe, alice, limit):
    limit(3 * RESERVED)  # three reservations fit at once, not four
    provider.delay = 1.0  # every call still holds its reservation when the 8th asks
    partition = Partition("default", APP, "alice")
    outcomes, barrier = [], threading.Barrier(8)

    def ask():
        barrier.wait()
        try:
            asyncio.run(core.complete(partition, PROMPT, max_tokens=50))
            outcomes.append("ok")
        except QuotaExceeded:
            outcomes.append("refused")

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["ok"] * 3 + ["refused"] * 5
    assert len(provider.requests) == 3  # the refused never left
    assert used() == 3 * USED
