"""The charge API the surfaces call (files' bytes, AI tokens, outbound calls): each
limit refuses at the limit and not before, exactly the limit passes under
concurrent callers, a refusal charges nothing."""

import datetime
import threading

import pytest
from django.test.utils import override_settings

from apps.accounts.partition import Partition
from apps.common import ratelimit
from apps.quotas import counters
from apps.quotas.errors import QuotaExceeded
from apps.quotas.models import Usage

from .writers import race

DAY1 = datetime.datetime(2026, 12, 7, 10, tzinfo=datetime.UTC)
DAY2 = DAY1 + datetime.timedelta(days=1)


def part(user="alice", app="notes"):
    return Partition("default", app, user)


def rows():
    return sorted(
        Usage.objects.values_list("user_id", "kind", "period", "used"), key=str
    )


@pytest.fixture
def quota(settings):
    def set_limits(**limits):
        settings.IMPERAL_QUOTAS = {"notes": limits}

    return set_limits


@pytest.mark.django_db
def test_a_held_kind_refuses_at_the_limit_and_not_before(quota):
    quota(**{"files.bytes": 100})
    assert counters.charge("files.bytes", part(), 60) == 60
    assert counters.charge("files.bytes", part(), 40) == 100  # exactly the limit
    before = rows()

    with pytest.raises(QuotaExceeded) as refused:
        counters.charge("files.bytes", part(), 1)

    assert refused.value.quota == {
        "kind": "files.bytes",
        "limit": 100,
        "usage": 100,
        "requested": 1,
        "window": "",
    }
    assert refused.value.status == 507
    assert rows() == before
    counters.release("files.bytes", part(), 30)
    assert counters.charge("files.bytes", part(), 30) == 100


@pytest.mark.django_db
def test_an_amount_over_the_limit_on_a_new_counter_writes_no_row(quota):
    quota(**{"files.bytes": 10})
    with pytest.raises(QuotaExceeded) as refused:
        counters.charge("files.bytes", part(), 11)
    assert refused.value.usage == 0
    assert rows() == []


@pytest.mark.django_db
def test_a_daily_kind_counts_per_utc_day(quota):
    quota(**{"ai.tokens": 1000})
    counters.charge("ai.tokens", part(), 1000, now=DAY1)
    with pytest.raises(QuotaExceeded) as refused:
        counters.charge("ai.tokens", part(), 1, now=DAY1)
    assert refused.value.status == 429 and refused.value.window == "day"

    assert counters.charge("ai.tokens", part(), 5, now=DAY2) == 5
    assert counters.usage("ai.tokens", part(), now=DAY1) == 1000
    assert ("alice", "ai.tokens", "2026-12-08", 5) in rows()


@pytest.mark.django_db
def test_without_a_limit_usage_is_still_counted_and_release_stops_at_zero():
    assert counters.charge("files.bytes", part(), 7) == 7
    counters.release("files.bytes", part(), 100)
    assert counters.usage("files.bytes", part()) == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "amount"),
    [("files.byte", 1), ("files.bytes", -1), ("files.bytes", 1.5), ("ai.tokens", True)],
)
def test_bad_arguments_are_refused_before_anything_is_written(kind, amount):
    with pytest.raises(ValueError, match="kind|amount"):
        counters.charge(kind, part(), amount)
    assert rows() == []


@pytest.mark.django_db
def test_a_reservation_of_tokens_gives_back_what_the_call_did_not_use(quota):
    quota(**{"ai.tokens": 1000})
    counters.charge("ai.tokens", part(), 800, now=DAY1)  # the call's max_tokens
    with pytest.raises(QuotaExceeded):  # a second call cannot reserve as much
        counters.charge("ai.tokens", part(), 800, now=DAY1)

    counters.release("ai.tokens", part(), 800 - 120, now=DAY1)  # it used 120

    assert counters.usage("ai.tokens", part(), now=DAY1) == 120
    assert counters.charge("ai.tokens", part(), 800, now=DAY1) == 920


@pytest.mark.django_db
def test_a_per_minute_kind_is_not_released():
    with pytest.raises(ValueError, match="not released"):
        counters.release("egress.calls", part(), 1)


@pytest.mark.django_db(transaction=True)
def test_concurrent_charges_let_exactly_the_limit_pass(quota):
    quota(**{"files.bytes": 5, "ai.tokens": 3})

    files = race(lambda i, _: counters.charge("files.bytes", part(), 1))
    tokens = race(lambda i, _: counters.charge("ai.tokens", part(), 1, now=DAY1))

    assert files == ["passed"] * 5 + ["refused"] * 3
    assert tokens == ["passed"] * 3 + ["refused"] * 5
    assert counters.usage("files.bytes", part()) == 5
    assert counters.usage("ai.tokens", part(), now=DAY1) == 3


@pytest.mark.django_db(transaction=True)
def test_concurrent_calls_in_one_minute_let_exactly_the_limit_pass(quota):
    ratelimit.reset_counters()
    quota(**{"egress.calls": 3})
    user = f"u{threading.get_ident()}{datetime.datetime.now().timestamp()}"
    minute = datetime.datetime.now(datetime.UTC)

    outcomes = race(
        lambda i, _: counters.charge("egress.calls", part(user), 1, now=minute)
    )

    assert outcomes == ["passed"] * 3 + ["refused"] * 5
    with pytest.raises(QuotaExceeded) as refused:
        counters.charge("egress.calls", part(user), 1, now=minute)
    assert refused.value.quota["usage"] == 3 and refused.value.status == 429
    next_minute = minute + datetime.timedelta(minutes=1)
    assert counters.charge("egress.calls", part(user), 1, now=next_minute) == 1


@pytest.mark.django_db
def test_the_limit_of_one_user_is_not_anothers(settings):
    with override_settings(
        IMPERAL_QUOTAS={"notes": {"users": {"bob": {"files.bytes": 1}}}}
    ):
        counters.charge("files.bytes", part("alice"), 50)
        with pytest.raises(QuotaExceeded):
            counters.charge("files.bytes", part("bob"), 2)
