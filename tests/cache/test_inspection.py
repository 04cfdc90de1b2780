"""What the console's cache inspector reads through the core, on this pass's
backend (Redis or embedded): listing with when cached, counting without a walk
of the keyspace, and an operator's delete."""

import time

import pytest
from imperal_sdk import Extension
from pydantic import BaseModel

from apps.accounts.partition import Partition
from apps.cache.core import get_core
from apps.cache.entries import hash_key
from imperal_platform.testing.clock import CacheClock, TestClock
from tests.api.conftest import cache_prefix  # noqa: F401  (a fixture)

ext = Extension("inspect-probe", description="cache inspection tests")


@ext.cache_model("note")
class Note(BaseModel):
    text: str


def part(user):
    return Partition("t", "inspect-probe", user)


@pytest.fixture
def core(cache_prefix):  # noqa: F811
    return get_core()


def test_entries_listed_with_model_ttl_size_and_cached_at(core):
    core.set(part("a"), ext, "k1", Note(text="one"), ttl_seconds=60)
    core.set(part("a"), ext, "k2", Note(text="two"), ttl_seconds=120)
    core.set(part("b"), ext, "k1", Note(text="other"), ttl_seconds=60)
    views = core.inspect_entries(part("a"))
    assert sorted(v.key_hash for v in views) == sorted([hash_key("k1"), hash_key("k2")])
    by_hash = {v.key_hash: v for v in views}
    assert 110 <= by_hash[hash_key("k2")].ttl_seconds <= 120
    assert by_hash[hash_key("k1")].model == "note"
    assert by_hash[hash_key("k1")].size > 0
    assert by_hash[hash_key("k1")].cached_at.startswith(
        time.strftime("%Y-", time.gmtime())
    )


def test_counts_follow_writes_overwrites_deletes_and_expiry(core, monkeypatch):
    a, b, empty = part("a"), part("b"), part("nobody")
    for key in ("k1", "k2", "k3"):
        core.set(a, ext, key, Note(text=key), ttl_seconds=30)
    core.set(a, ext, "k1", Note(text="again"), ttl_seconds=10)  # overwrite: one entry
    core.set(b, ext, "k1", Note(text="b"), ttl_seconds=60)
    assert core.count_entries([a, b, empty], cap=10) == [
        (3, False),
        (1, False),
        (0, False),
    ]
    assert core.count_entries([a], cap=2) == [(2, True)]
    core.delete(a, ext, "k2")
    assert core.count_entries([a], cap=10) == [(2, False)]
    # Twenty seconds on: k1 (10 s) has expired, k3 (30 s) has not.
    monkeypatch.setattr(core, "clock", core.clock)
    if hasattr(core.backend, "clock"):
        monkeypatch.setattr(core.backend, "clock", core.backend.clock)
    CacheClock(core, TestClock()).advance(20)
    assert core.count_entries([a], cap=10) == [(1, False)]
    assert core.count_entries([], cap=10) == []


def test_a_listing_of_the_whole_prefix_holds_only_entries(core, cache_prefix):  # noqa: F811
    core.set(part("a"), ext, "k1", Note(text="one"), ttl_seconds=60)
    listed = core.backend.list(cache_prefix + ":", 100)
    assert [e.key.rsplit(":", 1)[1] for e in listed] == [hash_key("k1")]


def test_operator_delete_of_one_entry(core):
    core.set(part("a"), ext, "k1", Note(text="one"), ttl_seconds=60)
    core.set(part("a"), ext, "k2", Note(text="two"), ttl_seconds=60)
    with pytest.raises(ValueError, match="key hash must be 16 lowercase hex"):
        core.remove_entry(part("a"), "note", "*")
    with pytest.raises(ValueError, match="model name must be 1-128"):
        core.remove_entry(part("a"), "", hash_key("k1"))
    assert core.count_entries([part("a")], 10) == [(2, False)]
    core.remove_entry(part("a"), "note", hash_key("k1"))
    assert [v.key_hash for v in core.inspect_entries(part("a"))] == [hash_key("k2")]
    assert core.count_entries([part("a")], 10) == [(1, False)]
