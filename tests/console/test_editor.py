"""The document editor through Django's test client: every write attributed by name
with its change on the document's history, a conflict shown as a diff and resolved
only by an explicit etag-checked overwrite, create and delete, large documents
rendered once, and bad input refused with nothing written."""

import json
import re

import pytest
from django.urls import reverse

from apps.api.models import OperatorAction
from apps.store.models import AuditEntry, Document

from .conftest import APP, CHANGE, DELETE, VIEW, partition

pytestmark = pytest.mark.django_db(transaction=True)
ADD = "store.add_document"


def doc(doc_id, user="alice"):
    return Document.objects.get(app_id=APP, user_id=user, doc_id=doc_id)


def documents():
    """Every stored document: the state a refused write must leave alone."""
    return sorted(Document.objects.values_list("user_id", "doc_id", "data", "etag"))


def url_of(doc_id="n0", user="alice", collection="notes"):
    return reverse("console:document", args=[APP, user, collection, doc_id])


def edit(client, etag, data, doc_id="n0", **extra):
    return client.post(url_of(doc_id), {"etag": etag, "data": data, **extra})


def test_an_edit_is_attributed_and_its_change_shown_on_the_history(operator, stored):
    client = operator("olga", VIEW, CHANGE)
    seen = doc("n0").etag
    response = edit(client, seen, '{"status": "closed", "priority": 2}')
    assert response.status_code == 302
    saved = doc("n0")
    assert saved.data == {"status": "closed", "priority": 2}
    audit = AuditEntry.objects.filter(doc_id="n0").latest("id")
    assert (audit.op, audit.actor, audit.operator, audit.etag) == (
        "update",
        "operator",
        "olga",
        saved.etag,
    )
    action = OperatorAction.objects.get(action="edit")
    assert (action.operator, action.user_id, action.collection, action.doc_id) == (
        "olga",
        "alice",
        "notes",
        "n0",
    )
    assert action.detail == {"etag": saved.etag}
    page = client.get(response["Location"]).content.decode()
    assert f"etag is now {saved.etag}" in page
    assert "operator <strong>olga</strong>" in page
    status_row = re.search(r"<code>status</code></td>(.*?)</tr>", page, re.S).group(1)
    assert "&quot;open&quot;" in status_row and "&quot;closed&quot;" in status_row
    assert re.search(r"<code>priority</code></td><td class=\"before absent\">", page)


def test_a_conflict_shows_the_diff_and_keeps_the_stored_document(operator, stored):
    client = operator("olga", VIEW, CHANGE)
    seen = doc("n0").etag
    stored.update(partition("alice"), "user", "notes", "n0", {"status": "theirs"})
    theirs = doc("n0")
    before = documents()
    response = edit(client, seen, '{"status": "mine", "doc_id": "n0"}')
    assert response.status_code == 409
    page = response.content.decode()
    assert f"You edited etag {seen}; its current etag is {theirs.etag}" in page
    row = re.search(r"<code>status</code></td>(.*?)</tr>", page, re.S).group(1)
    assert "&quot;theirs&quot;" in row and "&quot;mine&quot;" in row
    # The form now carries the current etag, for an explicit overwrite only.
    assert f'name="etag" value="{theirs.etag}"' in page
    assert 'name="overwrite" value="1"' in page and "Overwrite with my version" in page
    assert "{&quot;status&quot;: &quot;mine&quot;" in page  # the edit is kept
    assert documents() == before
    assert not OperatorAction.objects.exists()


def test_overwrite_is_an_etag_checked_save_against_the_current_etag(operator, stored):
    client = operator("olga", VIEW, CHANGE)
    stale = doc("n0").etag
    stored.update(partition("alice"), "user", "notes", "n0", {"status": "theirs"})
    current = doc("n0").etag
    assert edit(client, stale, '{"status": "mine"}').status_code == 409

    # Another write lands between the conflict page and the overwrite: refused too.
    stored.update(partition("alice"), "user", "notes", "n0", {"status": "third"})
    before = documents()
    again = edit(client, current, '{"status": "mine"}', overwrite="1")
    assert again.status_code == 409 and documents() == before

    newest = doc("n0").etag
    done = edit(client, newest, '{"status": "mine"}', overwrite="1")
    assert done.status_code == 302
    assert doc("n0").data == {"status": "mine"}
    audit = AuditEntry.objects.filter(doc_id="n0").latest("id")
    assert audit.operator == "olga"
    status = next(c for c in audit.change["changes"] if c["path"] == ["status"])
    assert (status["before"], status["after"]) == ("third", "mine")
    action = OperatorAction.objects.get(action="edit")
    assert action.detail == {"etag": doc("n0").etag, "overwrite": True}


@pytest.mark.parametrize(
    "data, message",
    [
        ("{broken", "must be JSON text"),
        ("[1, 2]", "JSON object"),
        ('{"n": NaN}', "NaN"),
    ],
)
def test_a_bad_edit_is_named_keeps_the_seen_etag_and_writes_nothing(
    operator, stored, data, message
):
    client = operator("olga", VIEW, CHANGE)
    seen = doc("n0").etag
    before = documents()
    response = edit(client, seen, data)
    assert response.status_code == 400
    page = response.content.decode()
    assert message in page
    assert f'name="etag" value="{seen}"' in page and 'name="overwrite"' not in page
    assert documents() == before
    assert not OperatorAction.objects.exists()


def test_editing_needs_change_permission(operator, stored):
    client = operator("vera", VIEW)
    before = documents()
    assert "?edit=1" not in client.get(url_of()).content.decode()
    assert edit(client, doc("n0").etag, "{}").status_code == 403
    assert documents() == before


def test_create_a_document_with_a_chosen_or_a_new_id(operator, stored):
    client = operator("olga", VIEW, ADD)
    new = reverse("console:document-new", args=[APP, "alice"])
    form = client.get(new, {"collection": "notes"}).content.decode()
    assert 'name="collection" value="notes"' in form
    response = client.post(
        new, {"collection": "notes", "doc_id": "hand", "data": '{"title": "made"}'}
    )
    assert response.status_code == 302 and response["Location"] == url_of("hand")
    assert doc("hand").data == {"title": "made"}
    audit = AuditEntry.objects.get(doc_id="hand")
    assert (audit.op, audit.operator) == ("create", "olga")
    assert audit.change["changes"] == [{"path": ["title"], "after": "made"}]
    assert OperatorAction.objects.get(action="create").doc_id == "hand"

    response = client.post(new, {"collection": "fresh", "data": "{}"})
    created = Document.objects.get(collection="fresh")
    assert re.fullmatch(r"[0-9a-f]{32}", created.doc_id)
    assert response["Location"] == url_of(created.doc_id, collection="fresh")


@pytest.mark.parametrize(
    "form, status, message",
    [
        ({"collection": "notes", "doc_id": "n0", "data": "{}"}, 409, "already holds"),
        ({"collection": "a:b", "data": "{}"}, 400, "collection must be"),
        ({"collection": "notes", "doc_id": "a b", "data": "{}"}, 400, "doc_id must"),
        ({"collection": "notes", "data": "{oops"}, 400, "must be JSON text"),
        ({"collection": "notes", "data": '"text"'}, 400, "JSON object"),
    ],
)
def test_a_bad_create_is_named_and_writes_nothing(
    operator, stored, form, status, message
):
    client = operator("olga", VIEW, ADD)
    before = documents()
    response = client.post(reverse("console:document-new", args=[APP, "alice"]), form)
    assert response.status_code == status
    assert message in response.content.decode()
    assert documents() == before and not OperatorAction.objects.exists()


def test_creating_needs_add_permission(operator, stored):
    client = operator("vera", VIEW, CHANGE)
    new = reverse("console:document-new", args=[APP, "alice"])
    before = documents()
    response = client.post(new, {"collection": "notes", "data": "{}"})
    assert response.status_code == 403 and b"store.add_document" in response.content
    assert documents() == before


def test_delete_confirms_then_deletes_at_the_etag_shown(operator, stored):
    client = operator("olga", VIEW, DELETE)
    url = reverse("console:document-delete", args=[APP, "alice", "notes", "n1"])
    page = client.get(url).content.decode()
    seen = doc("n1").etag
    assert f'name="etag" value="{seen}"' in page and "Yes, delete" in page
    assert Document.objects.filter(doc_id="n1").exists()  # GET deletes nothing
    response = client.post(url, {"etag": seen})
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "console:documents", args=[APP, "alice", "notes"]
    )
    assert not Document.objects.filter(doc_id="n1").exists()
    audit = AuditEntry.objects.filter(doc_id="n1").latest("id")
    assert (audit.op, audit.operator) == ("delete", "olga")
    assert {"path": ["status"], "before": "done"} in audit.change["changes"]
    assert OperatorAction.objects.get(action="delete").detail == {"etag": seen}


def test_a_stale_or_missing_etag_deletes_nothing(operator, stored):
    client = operator("olga", VIEW, DELETE)
    url = reverse("console:document-delete", args=[APP, "alice", "notes", "n1"])
    seen = doc("n1").etag
    stored.update(partition("alice"), "user", "notes", "n1", {"status": "again"})
    before = documents()
    response = client.post(url, {"etag": seen})
    assert response.status_code == 409
    assert f"it is now {doc('n1').etag}" in response.content.decode()
    assert client.post(url, {"etag": ""}).status_code == 400
    assert documents() == before and not OperatorAction.objects.exists()


def test_deleting_the_last_document_leads_back_to_what_is_left(operator, stored):
    client = operator("olga", VIEW, DELETE)
    url = reverse("console:document-delete", args=[APP, "alice", "tags", "t0"])
    response = client.post(url, {"etag": doc("t0").etag})
    assert response["Location"] == reverse("console:partition", args=[APP, "alice"])
    url = reverse("console:document-delete", args=[APP, "bob", "notes", "b0"])
    response = client.post(url, {"etag": doc("b0", "bob").etag})
    assert response["Location"] == reverse("console:users", args=[APP])


def test_deleting_needs_delete_permission(operator, stored):
    client = operator("vera", VIEW, CHANGE)
    url = reverse("console:document-delete", args=[APP, "alice", "notes", "n1"])
    assert client.post(url, {"etag": doc("n1").etag}).status_code == 403
    assert Document.objects.filter(doc_id="n1").exists()
    assert "Delete…" not in client.get(url_of("n1")).content.decode()


def test_a_large_document_is_previewed_cut_and_shown_whole_once(operator, stored):
    big = "x" * (3 * 1024 * 1024)
    stored.create(partition("alice"), "user", "notes", {"doc_id": "big", "body": big})
    client = operator("olga", VIEW, CHANGE)
    page = client.get(url_of("big")).content.decode()
    assert len(page) < 300_000
    assert "3.0 MB" in page and "Show all" in page
    assert "more characters)" in page
    whole = client.get(url_of("big"), {"full": "1"}).content.decode()
    assert whole.count(big) == 1 and len(whole) < len(big) + 200_000
    editor = client.get(url_of("big"), {"edit": "1"}).content.decode()
    assert "show all and edit" in editor and big[:5000] not in editor
    editing = client.get(url_of("big"), {"edit": "1", "full": "1"}).content.decode()
    assert editing.count(big) == 1 and "<textarea" in editing


def test_the_editor_degrades_to_a_textarea_with_its_script_served_locally(
    operator, stored
):
    client = operator("olga", VIEW, CHANGE)
    page = client.get(url_of(), {"edit": "1"}).content.decode()
    assert re.search(r'<textarea id="data" name="data"[^>]*data-json-editor>', page)
    scripts = re.findall(r'<script src="([^"]+)"', page)
    assert "/static/console/editor.js" in scripts
    assert all(src.startswith("/static/") for src in scripts)
    data = json.loads(re.search(r"data-json-editor>(.*?)</textarea>", page, re.S)
                      .group(1).replace("&quot;", '"'))  # fmt: skip
    assert data == doc("n0").data
    assert page.count("&quot;status&quot;") == 1  # the document, rendered once


def test_the_history_shows_twenty_paths_of_a_change_and_counts_the_rest(
    operator, stored
):
    client = operator("olga", VIEW, CHANGE)
    many = json.dumps({f"k{n:02d}": n for n in range(30)})
    edit(client, doc("n0").etag, many)
    page = client.get(url_of()).content.decode()
    assert page.count('<td class="before ') == 20
    assert "… and 12 more fields." in page  # 30 added, doc_id and status removed
