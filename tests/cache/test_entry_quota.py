"""The cache.entries quota (apps.quotas) replaces IMPERAL_CACHE_MAX_ENTRIES for its
partitions, on every backend: the one refusal, quota_exceeded, with its figures."""

import pytest
from asgiref.sync import async_to_sync

from apps.cache.core import CacheFull
from apps.quotas.errors import QuotaExceeded
from tests.fixtures.extensions.cache_probe import ResourceSummary

from .conftest import context, partition


def summary(total):
    return ResourceSummary(total=total, active=0, last_id=f"doc_{total}")


def fill(ctx, *keys):
    for number, key in enumerate(keys):
        async_to_sync(ctx.cache.set)(key, summary(number))


def keys_of(core, user_id="alice"):
    return sorted(info.key_hash for info in core.list_entries(partition(user_id)))


def test_the_quota_refuses_a_new_key_at_the_limit(settings, cache_config, core, ext):
    settings.IMPERAL_CACHE_MAX_ENTRIES = 50
    settings.IMPERAL_QUOTAS = {"cache-probe": {"cache.entries": 2}}
    ctx = context(ext, "alice")
    fill(ctx, "a", "b")
    before = keys_of(core)

    with pytest.raises(QuotaExceeded) as refused:
        async_to_sync(ctx.cache.set)("c", summary(3))

    assert isinstance(refused.value, CacheFull) and isinstance(
        refused.value, ValueError
    )
    assert refused.value.quota == {
        "kind": "cache.entries",
        "limit": 2,
        "usage": 2,
        "requested": 1,
        "window": "",
    }
    assert refused.value.status == 507
    assert "quota cache.entries" in str(refused.value)
    assert keys_of(core) == before


def test_a_users_own_quota_may_pass_the_platform_cap(settings, cache_config, core, ext):
    settings.IMPERAL_CACHE_MAX_ENTRIES = 2
    settings.IMPERAL_QUOTAS = {
        "cache-probe": {"users": {"bob": {"cache.entries": 4}}},
    }
    fill(context(ext, "bob"), "a", "b", "c", "d")
    with pytest.raises(CacheFull, match="IMPERAL_CACHE_MAX_ENTRIES"):
        fill(context(ext, "alice"), "a", "b", "c")
    assert len(keys_of(core, "bob")) == 4
    assert len(keys_of(core, "alice")) == 2
