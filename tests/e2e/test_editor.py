"""The document editor as an operator uses it, in a real browser: edit and see the
change in the history with your name, meet a conflict and overwrite, create and
delete, page a list back and forth, and JSON checked as you type."""

import re

import pytest
from playwright.sync_api import expect

from apps.api.models import OperatorAction
from apps.store.models import AuditEntry, Document

from .partition_data import ALICE, APP, BOB, clear_cache, partition, seed

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
PARTITION = f"/admin/console/partitions/{APP}/{ALICE}/"
NOTES = PARTITION + "c/notes/"


@pytest.fixture
def documents():
    yield seed()
    clear_cache(ALICE, BOB)


def stored(doc_id):
    return Document.objects.get(app_id=APP, user_id=ALICE, doc_id=doc_id)


def open_editor(page, doc_id):
    page.goto(NOTES + f"{doc_id}/")
    page.get_by_role("link", name="Edit", exact=True).click()
    return page.get_by_label("Document JSON", exact=True)


def test_edit_a_document_and_see_the_change_in_its_history(
    operator_page, documents, screenshot
):
    page = operator_page
    page.goto(NOTES + "n0/")
    expect(page.get_by_label("Document data")).to_contain_text('"status"')
    screenshot(page, "console-document")
    editor = open_editor(page, "n0")
    expect(page.get_by_role("status")).to_contain_text("Valid JSON object")
    screenshot(page, "console-document-editor")
    editor.fill('{"status": "closed", "owner": "ops"}')
    page.get_by_role("button", name="Save").click()
    saved = stored("n0")
    expect(
        page.get_by_text(f"Saved. The document's etag is now {saved.etag}")
    ).to_be_visible()
    assert saved.data == {"status": "closed", "owner": "ops"}

    change = page.get_by_role("table", name=re.compile(r"What operator changed"))
    expect(change).to_be_visible()
    status_row = change.get_by_role("row", name=re.compile(r"^status"))
    expect(status_row).to_contain_text('"open"')
    expect(status_row).to_contain_text('"closed"')
    expect(change.get_by_role("row", name=re.compile(r"^owner"))).to_contain_text(
        "absent"
    )
    expect(page.get_by_role("cell", name="operator operator").first).to_be_visible()
    screenshot(page, "console-document-history")
    audit = AuditEntry.objects.filter(doc_id="n0").latest("id")
    assert (audit.operator, audit.etag) == ("operator", saved.etag)


def test_a_conflict_shows_the_diff_and_is_resolved_by_overwrite(
    operator_page, documents, screenshot
):
    page = operator_page
    editor = open_editor(page, "n0")
    editor.fill('{"status": "mine"}')
    # A second write lands between loading the editor and saving it.
    documents.update(partition(ALICE), "user", "notes", "n0", {"status": "theirs"})
    theirs = stored("n0")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_contain_text(
        f"its current etag is {theirs.etag}"
    )
    diff = page.get_by_role("table", name="Your edit against what is stored")
    status_row = diff.get_by_role("row", name=re.compile(r"^status"))
    expect(status_row).to_contain_text('"theirs"')
    expect(status_row).to_contain_text('"mine"')
    screenshot(page, "console-document-conflict")
    after_conflict = stored("n0")
    assert (after_conflict.data, after_conflict.etag) == (theirs.data, theirs.etag)

    page.get_by_role("button", name="Overwrite with my version").click()
    overwritten = stored("n0")
    expect(page.get_by_role("status").first).to_contain_text(overwritten.etag)
    assert overwritten.data == {"status": "mine"}
    action = OperatorAction.objects.get(action="edit")
    assert action.detail == {"etag": overwritten.etag, "overwrite": True}
    screenshot(page, "console-document-overwritten")


def test_create_and_delete_a_document(operator_page, documents, screenshot):
    page = operator_page
    page.goto(PARTITION)
    page.get_by_label("New document in collection").fill("notes")
    page.get_by_role("button", name="New document…").click()
    page.get_by_label("Document id (optional)").fill("fresh")
    page.get_by_label("Document JSON", exact=True).fill('{"title": "made here"}')
    expect(page.get_by_role("status")).to_contain_text("Valid JSON object: 1 key")
    screenshot(page, "console-document-new")
    page.get_by_role("button", name="Create").click()
    expect(page).to_have_url(re.compile(r"/c/notes/fresh/$"))
    expect(page.get_by_label("Document data")).to_contain_text("made here")
    assert stored("fresh").data == {"title": "made here"}

    page.get_by_role("link", name="Delete…").click()
    expect(page.get_by_role("button", name="Yes, delete this document")).to_be_visible()
    screenshot(page, "console-document-delete")
    page.get_by_role("button", name="Yes, delete this document").click()
    expect(page).to_have_url(re.compile(r"/c/notes/$"))
    expect(page.locator(".messagelist")).to_contain_text("Deleted notes/fresh")
    assert not Document.objects.filter(doc_id="fresh").exists()
    ops = list(AuditEntry.objects.filter(doc_id="fresh").values_list("op", "operator"))
    assert sorted(ops) == [("create", "operator"), ("delete", "operator")]


def test_sort_and_page_a_list_back_and_forth(operator_page, documents, screenshot):
    for n in range(30):
        documents.create(partition(ALICE), "user", "notes", {"doc_id": f"p{n:02d}"})
    page = operator_page
    page.goto(NOTES)
    expect(page.get_by_text("33 documents in notes.")).to_be_visible()
    page.get_by_role("link", name="Document", exact=True).click()
    first = page.locator("tbody tr td:first-child a")
    expect(first.first).to_have_text("n0")
    screenshot(page, "console-documents-sorted")
    page.get_by_role("link", name="Next page ›").click()
    expect(first.first).to_have_text("p22")
    expect(first).to_have_count(8)
    screenshot(page, "console-documents-page-2")
    page.get_by_role("link", name="‹ Previous page").click()
    expect(first.first).to_have_text("n0")
    expect(first).to_have_count(25)
    expect(page.get_by_role("link", name="‹ Previous page")).to_have_count(0)

    page.get_by_role("link", name="Document", exact=True).click()  # descending now
    expect(first.first).to_have_text("p29")
    page.get_by_label("Field").fill("status")
    page.get_by_label("Operator").select_option(label="equals")
    page.get_by_label("Value").fill("open")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_label("Where")).to_have_value('{"status": "open"}')
    expect(first).to_have_count(2)
    screenshot(page, "console-documents-filter-row")


def test_json_is_checked_and_formatted_as_you_type(operator_page, documents):
    page = operator_page
    editor = open_editor(page, "n0")
    editor.fill('{"status": "open",\n "n": }')
    status = page.get_by_role("status")
    expect(status).to_contain_text("Line 2, column")
    expect(editor).to_have_attribute("aria-invalid", "true")
    before = stored("n0")
    page.get_by_role("button", name="Save").click()  # refused here: nothing sent
    expect(editor).to_be_focused()
    assert stored("n0").etag == before.etag
    editor.fill('{"status":"open","n":[1,2]}')
    page.get_by_role("button", name="Format").click()
    expect(editor).to_have_value(
        '{\n  "status": "open",\n  "n": [\n    1,\n    2\n  ]\n}'
    )
    expect(status).to_contain_text("Valid JSON object: 2 keys")


def test_a_large_document_opens_fast_with_show_all(
    operator_page, documents, screenshot
):
    body = "lorem ipsum " * 300_000  # 3.4 MB
    blob = "x" * 20_000  # one unbroken token
    data = {"doc_id": "big", "body": body, "blob": blob}
    documents.create(partition(ALICE), "user", "notes", data)
    page = operator_page
    response = page.goto(NOTES + "big/")
    assert len(response.body()) < 300_000
    expect(page.get_by_text("long values are cut below")).to_be_visible()
    width = "document.documentElement.scrollWidth"
    assert page.evaluate(width) <= 1280  # long values wrap: nothing overflows
    screenshot(page, "console-document-large")
    page.get_by_role("link", name="Show all").click()
    expect(page.get_by_label("Document data")).to_contain_text("lorem ipsum")
    assert page.evaluate(width) <= 1280


def test_unknown_pages_are_styled_with_a_way_back(operator_page, documents, screenshot):
    page = operator_page
    response = page.goto(f"/admin/console/partitions/{APP}/nobody/")
    assert response.status == 404
    expect(page.get_by_role("alert")).to_contain_text("No partition of user 'nobody'")
    expect(page.get_by_role("link", name="Erase partition…")).to_have_count(0)
    screenshot(page, "console-404-user")
    page.get_by_role("link", name=f"Back to Users of {APP}").click()
    expect(page).to_have_url(re.compile(rf"/partitions/{APP}/$"))
    expect(page.get_by_text("User id contains")).to_be_visible()
    screenshot(page, "console-users-after-404")
