"""Documents in a real browser: a collection filtered with a ``where``, an edit
saved against the etag seen, and a stale edit refused with the current etag."""

import pytest
from playwright.sync_api import expect

from apps.store.models import Document

from .partition_data import ALICE, APP, BOB, clear_cache, partition, seed

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
NOTES = f"/admin/console/partitions/{APP}/{ALICE}/c/notes/"


@pytest.fixture
def documents():
    yield seed()
    clear_cache(ALICE, BOB)


def test_filter_a_collection_with_where(operator_page, documents, screenshot):
    page = operator_page
    page.goto(NOTES)
    expect(page.get_by_role("link", name="n1")).to_be_visible()
    page.get_by_label("Where").fill('{"status": "open"}')
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("link", name="n0")).to_be_visible()
    expect(page.get_by_role("link", name="n2")).to_be_visible()
    expect(page.get_by_role("link", name="n1")).to_have_count(0)
    screenshot(page, "console-documents-where")
    page.get_by_label("Where").fill('{"status": {"$near": 1}}')
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("alert")).to_contain_text("$near")
    screenshot(page, "console-documents-bad-where")


def test_edit_saves_and_a_stale_edit_is_refused(
    new_page, login, operator, documents, screenshot
):
    page = login(new_page(java_script_enabled=False), operator)
    page.goto(NOTES + "n0/")
    page.get_by_role("link", name="Edit", exact=True).click()
    editor = page.get_by_label("Document JSON", exact=True)
    editor.fill('{"status": "closed"}')
    page.get_by_role("button", name="Save").click()
    saved = Document.objects.get(user_id=ALICE, doc_id="n0")
    assert saved.data == {"status": "closed"}
    expect(page.get_by_role("status")).to_contain_text(saved.etag)

    # Someone else writes while the operator edits the page they opened.
    page.get_by_role("link", name="Edit", exact=True).click()
    page.get_by_label("Document JSON", exact=True).fill('{"status": "mine"}')
    documents.update(partition(ALICE), "user", "notes", "n0", {"status": "theirs"})
    current = Document.objects.get(user_id=ALICE, doc_id="n0")
    page.get_by_role("button", name="Save").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text(f"its current etag is {current.etag}")
    expect(alert).to_contain_text(saved.etag)
    screenshot(page, "console-stale-edit")
    after = Document.objects.get(user_id=ALICE, doc_id="n0")
    assert (after.data, after.etag) == ({"status": "theirs"}, current.etag)
