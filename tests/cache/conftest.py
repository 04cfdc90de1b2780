"""Fixtures of the ctx.cache suite: one contract, run on every backend."""

import uuid

import pytest

from apps.accounts.identity import PlatformUserContext
from apps.accounts.partition import Partition
from apps.cache.core import get_core
from apps.extensions.context import build_context
from apps.quotas import limits as quota_limits
from tests.fixtures.extensions import cache_probe

BACKENDS = [
    pytest.param("embedded", id="embedded"),
    pytest.param("redis", id="redis", marks=pytest.mark.redis),
]


def backend_config(kind, tmp_path):
    """Return the IMPERAL_CACHE BACKEND/OPTIONS of one backend kind."""
    if kind == "embedded":
        return {
            "BACKEND": "apps.cache.backends.embedded",
            "OPTIONS": {"path": str(tmp_path / "extcache.sqlite3")},
        }
    return {"BACKEND": "apps.cache.backends.redis", "OPTIONS": {"alias": "extcache"}}


@pytest.fixture(autouse=True)
def no_admin_quota_rows(monkeypatch):
    """This suite runs without a database: the admin's quota rows are held as
    none (IMPERAL_QUOTAS still applies); tests/quotas covers the admin's rows."""
    monkeypatch.setattr(quota_limits.table, "_rows", {})
    monkeypatch.setattr(quota_limits.table, "refresh_seconds", float("inf"))
    yield
    quota_limits.table.forget()


@pytest.fixture(params=BACKENDS)
def cache_kind(request):
    return request.param


@pytest.fixture
def cache_config(cache_kind, settings, tmp_path):
    """Make IMPERAL_CACHE a recording wrapper of ``cache_kind`` with a per-test prefix.

    Yields the config; afterwards deletes every key under that prefix (never
    FLUSHDB: other suites share the Redis database).
    """
    prefix = f"{settings.CACHE_KEY_PREFIX}:ext:t{uuid.uuid4().hex[:12]}"
    config = {
        "BACKEND": "tests.cache.recording",
        "OPTIONS": {"inner": backend_config(cache_kind, tmp_path)},
        "KEY_PREFIX": prefix,
    }
    settings.IMPERAL_CACHE = config
    yield config
    inner = get_core().backend.inner
    leftovers = [entry.key for entry in inner.list(prefix + ":", 100_000)]
    if leftovers:
        inner.delete(leftovers)
    if cache_kind == "redis":  # the partitions' entry indexes, beside the entries
        indexes = list(inner.client.scan_iter(match=f"{prefix}#index:*"))
        if indexes:
            inner.client.delete(*indexes)


@pytest.fixture
def core(cache_config):
    """The process's CacheCore, built from the test's IMPERAL_CACHE."""
    return get_core()


@pytest.fixture
def calls(core):
    """The backend calls made so far (a list the recording backend appends to)."""
    return core.backend.calls


@pytest.fixture
def ext():
    return cache_probe.ext


def partition(user_id, app_id="cache-probe", tenant_id="default"):
    return Partition(tenant_id, app_id, user_id)


def context(extension, user_id, tenant_id="default"):
    """Return a kernel context for ``user_id`` (no database needed)."""
    role = "system" if user_id == "__system__" else "user"
    user = PlatformUserContext(
        imperal_id=user_id, email="", tenant_id=tenant_id, role=role
    )
    return build_context(extension, user)
