"""Partitions stored under user ids from before the user-id rule, in a real browser:
the users page lists them, their links open them (a browser neither splits
``a/b`` nor resolves ``..`` away), and they export and erase."""

import pytest
from playwright.sync_api import expect

from apps.store.models import Document

from .partition_data import APP, partition, store

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

LEGACY = ["e2e-odd/one", ".."]


@pytest.fixture
def legacy():
    for user in LEGACY:
        store().create(partition(user), "user", "notes", {"doc_id": "x0", "n": 1})


@pytest.mark.parametrize("user", LEGACY, ids=["slash", "dot-dot"])
def test_a_legacy_partition_opens_exports_and_erases_from_its_link(
    new_page, login, operator, legacy, screenshot, user
):
    page = login(new_page(java_script_enabled=False), operator)
    page.goto(f"/admin/console/partitions/{APP}/")
    page.get_by_role("link", name=user, exact=True).click()

    expect(page.get_by_role("link", name="notes", exact=True)).to_be_visible()
    expect(page.locator("h1")).to_contain_text(f"{APP}: {user}")
    screenshot(page, f"console-legacy-{'slash' if '/' in user else 'dots'}")
    with page.expect_download() as download:
        page.get_by_role("link", name="Export as JSON").click()
    assert '"x0"' in open(download.value.path()).read()

    page.get_by_role("link", name="Erase partition…").click()
    page.get_by_role("button", name="Yes, erase this partition").click()
    expect(page.get_by_role("status")).to_contain_text(
        f"Erased the partition of {user}"
    )
    assert not Document.objects.filter(user_id=user).exists()
    assert Document.objects.filter(user_id__in=LEGACY).count() == 1
