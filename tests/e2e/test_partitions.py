"""The partition browser in a real browser: drill from an extension to one user's
document, erase a partition through its confirmation page, and who is refused."""

import re

import pytest
from playwright.sync_api import expect

from apps.store.models import AuditEntry, Document

from .conftest import make_staff
from .partition_data import ALICE, APP, BOB, clear_cache, seed

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def seeded():
    seed()
    yield
    clear_cache(ALICE, BOB)


def test_drill_from_extension_to_a_document(operator_page, seeded, screenshot):
    page = operator_page
    page.goto("/admin/console/partitions/")
    screenshot(page, "console-extensions")
    page.get_by_role("link", name=APP, exact=True).click()
    expect(page.get_by_role("link", name=ALICE)).to_be_visible()
    expect(page.get_by_role("row", name=re.compile(ALICE))).to_contain_text("4")
    screenshot(page, "console-users")
    page.get_by_role("link", name=ALICE).click()
    expect(page.get_by_role("link", name="tags")).to_be_visible()
    screenshot(page, "console-partition")
    page.get_by_role("link", name="notes", exact=True).click()
    page.get_by_role("link", name="n1").click()
    json_block = page.get_by_label("Document data")
    expect(json_block).to_contain_text('"status": "done"')
    etag = Document.objects.get(user_id=ALICE, doc_id="n1").etag
    expect(page.locator(".console-meta")).to_contain_text(etag)
    expect(page.get_by_role("row", name=re.compile("create"))).to_contain_text(
        re.compile(r"\d\d:\d\d:\d\d UTC")
    )
    screenshot(page, "console-document")


def test_users_are_searched_and_sorted(operator_page, seeded, screenshot):
    page = operator_page
    page.goto(f"/admin/console/partitions/{APP}/")
    page.get_by_label("User id contains").fill("bob")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("link", name=BOB)).to_be_visible()
    expect(page.get_by_role("link", name=ALICE)).to_have_count(0)
    page.goto(f"/admin/console/partitions/{APP}/?sort=-documents")
    rows = page.locator("#content .console-table tbody tr")
    expect(rows.first).to_contain_text(ALICE)
    screenshot(page, "console-users-sorted")


def test_erase_through_the_confirmation_page(
    new_page, login, operator, seeded, screenshot
):
    # Without JavaScript: the confirmation is a plain form.
    page = login(new_page(java_script_enabled=False), operator)
    bob_before = list(Document.objects.filter(user_id=BOB).values("doc_id", "etag"))
    page.goto(f"/admin/console/partitions/{APP}/{ALICE}/")
    page.get_by_role("link", name="Erase partition…").click()
    expect(page.locator("#content")).to_contain_text("4 documents")
    expect(page.locator("#content")).to_contain_text("notes: 3")
    screenshot(page, "console-erase-confirm")
    assert Document.objects.filter(user_id=ALICE).count() == 4
    page.get_by_role("button", name="Yes, erase this partition").click()
    expect(page.get_by_role("status")).to_contain_text("4 documents")
    screenshot(page, "console-erased")
    assert not Document.objects.filter(user_id=ALICE).exists()
    bob_after = list(Document.objects.filter(user_id=BOB).values("doc_id", "etag"))
    assert bob_after == bob_before
    erase = AuditEntry.objects.get(op="erase", user_id=ALICE)
    assert (erase.actor, erase.operator) == ("operator", operator.get_username())
    page.get_by_role("link", name=re.compile("Back to the users")).click()
    expect(page.get_by_role("link", name=BOB)).to_be_visible()
    expect(page.get_by_role("link", name=ALICE)).to_have_count(0)


def test_staff_without_document_permission_is_refused(
    new_page, login, seeded, screenshot
):
    clerk = make_staff("e2e-clerk", permissions=["accounts.view_user"])
    page = login(new_page(), clerk)
    response = page.goto(f"/admin/console/partitions/{APP}/{ALICE}/")
    assert response.status == 403
    expect(page.get_by_role("alert")).to_contain_text("view documents")
    expect(page.locator("body")).not_to_contain_text("notes")
    screenshot(page, "console-forbidden")
