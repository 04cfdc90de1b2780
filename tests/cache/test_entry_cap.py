"""The cap on live entries per partition (IMPERAL_CACHE_MAX_ENTRIES), on every backend:
a new key past it is refused and writes nothing; replacing a key, another
partition, a delete and an expiry all behave as the cap says."""

import threading
import time

import pytest
from asgiref.sync import async_to_sync
from django.core.exceptions import ImproperlyConfigured

from apps.cache.core import CacheCore, CacheFull
from tests.fixtures.extensions.cache_probe import ResourceSummary

from .conftest import context, partition

CAP = 3


def summary(total):
    return ResourceSummary(total=total, active=0, last_id=f"doc_{total}")


def run(func, *args, **kwargs):
    return async_to_sync(func)(*args, **kwargs)


@pytest.fixture
def capped(settings, cache_config):
    settings.IMPERAL_CACHE_MAX_ENTRIES = CAP


def keys_of(core, user_id="alice"):
    return sorted(info.key_hash for info in core.list_entries(partition(user_id)))


def fill(ctx, *keys, ttl_seconds=60):
    for number, key in enumerate(keys):
        run(ctx.cache.set, key, summary(number), ttl_seconds=ttl_seconds)


def test_a_new_key_past_the_cap_is_refused_and_nothing_is_written(capped, core, ext):
    ctx = context(ext, "alice")
    fill(ctx, "a", "b", "c")
    before = keys_of(core)

    with pytest.raises(CacheFull) as refused:
        run(ctx.cache.set, "d", summary(9))

    assert isinstance(refused.value, ValueError)
    message = str(refused.value)
    assert f"holds {CAP} live entries" in message
    assert "IMPERAL_CACHE_MAX_ENTRIES" in message
    assert "cache-probe/alice" in message
    assert keys_of(core) == before and len(before) == CAP
    assert run(ctx.cache.get, "d", ResourceSummary) is None
    assert run(ctx.cache.get, "a", ResourceSummary) == summary(0)


def test_replacing_a_key_of_a_full_partition_still_works(capped, core, ext):
    ctx = context(ext, "alice")
    fill(ctx, "a", "b", "c")

    run(ctx.cache.set, "b", summary(42), ttl_seconds=90)

    assert run(ctx.cache.get, "b", ResourceSummary) == summary(42)
    assert len(keys_of(core)) == CAP
    with pytest.raises(CacheFull):
        run(ctx.cache.set, "d", summary(9))


def test_the_cap_is_per_partition(capped, core, ext):
    fill(context(ext, "alice"), "a", "b", "c")
    bob = context(ext, "bob")

    fill(bob, "a", "b", "c")

    assert len(keys_of(core, "bob")) == CAP
    assert len(keys_of(core, "alice")) == CAP


def test_a_deleted_entry_frees_its_place(capped, core, ext):
    ctx = context(ext, "alice")
    fill(ctx, "a", "b", "c")

    run(ctx.cache.delete, "b")
    run(ctx.cache.set, "d", summary(9))

    assert run(ctx.cache.get, "d", ResourceSummary) == summary(9)
    assert len(keys_of(core)) == CAP


def test_get_or_fetch_in_a_full_partition_serves_the_fetched_value_uncached(
    capped, core, ext, caplog
):
    ctx = context(ext, "alice")
    fill(ctx, "a", "b", "c")

    fresh = run(ctx.cache.get_or_fetch, "d", ResourceSummary, lambda: summary(7))

    assert fresh == summary(7)
    assert run(ctx.cache.get, "d", ResourceSummary) is None
    assert "IMPERAL_CACHE_MAX_ENTRIES" in caplog.text


def test_concurrent_new_keys_never_pass_the_cap(capped, core, ext):
    ctx = context(ext, "alice")
    outcomes = []

    def write(number):
        try:
            run(ctx.cache.set, f"k{number}", summary(number))
            outcomes.append("stored")
        except CacheFull:
            outcomes.append("refused")

    threads = [threading.Thread(target=write, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["refused"] * 9 + ["stored"] * CAP
    assert len(keys_of(core)) == CAP


def test_expired_entries_do_not_count_and_kept_alive_ones_do(capped, core, ext):
    ctx = context(ext, "alice")
    fill(ctx, "short", "kept", ttl_seconds=5)
    fill(ctx, "long")
    run(ctx.cache.set, "kept", summary(5), ttl_seconds=60)  # outlives its first TTL

    time.sleep(6)  # "short" expires; "kept" is still alive

    run(ctx.cache.set, "new", summary(6))
    assert run(ctx.cache.get, "kept", ResourceSummary) == summary(5)
    with pytest.raises(CacheFull):
        run(ctx.cache.set, "newer", summary(7))
    assert len(keys_of(core)) == CAP


@pytest.mark.parametrize("cap", [0, -1, "500", True, None])
def test_a_malformed_cap_is_a_configuration_error_naming_the_setting(core, cap):
    with pytest.raises(ImproperlyConfigured, match="IMPERAL_CACHE_MAX_ENTRIES"):
        CacheCore(core.backend, core.key_prefix, cap)
