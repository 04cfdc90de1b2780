"""The cache inspector in a real browser: an entry with its TTL, then deleted."""

import re

import pytest
from playwright.sync_api import expect

from apps.cache.entries import hash_key

from .partition_data import ALICE, APP, BOB, cache_entry, clear_cache, partition, seed

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def cached():
    seed()
    core = cache_entry(ALICE, "inbox", "inbox_view", {"messages": [{"id": 1}]}, 200)
    cache_entry(ALICE, "other", "inbox_view", {"messages": []}, 200)
    yield core
    clear_cache(ALICE, BOB)


def test_see_an_entry_with_its_ttl_and_delete_it(operator_page, cached, screenshot):
    page = operator_page
    page.goto(f"/admin/console/partitions/{APP}/{ALICE}/")
    page.get_by_role("link", name="Inspect cache").click()
    digest = hash_key("inbox")
    row = page.get_by_role("row", name=re.compile(digest))
    expect(row).to_contain_text("inbox_view")
    ttl = int(row.locator("td").nth(3).inner_text())
    assert 150 <= ttl <= 200
    expect(row).to_contain_text(re.compile(r"\d\d:\d\d:\d\d UTC"))
    screenshot(page, "console-cache")
    page.get_by_role("button", name=f"Delete inbox_view {digest}").click()
    expect(page.get_by_role("status")).to_contain_text("Deleted cache entry")
    expect(page.get_by_role("row", name=re.compile(digest))).to_have_count(0)
    expect(page.get_by_role("row", name=re.compile(hash_key("other")))).to_be_visible()
    left = [e.key_hash for e in cached.list_entries(partition(ALICE))]
    assert left == [hash_key("other")]
