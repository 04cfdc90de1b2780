"""What an operator changes from the console: edits against the etag they saw,
a partition's export and erase, each recorded with the operator's name."""

import json

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from apps.api.models import OperatorAction
from apps.cache.core import get_core
from apps.store.models import AuditEntry, Document

from .conftest import APP, CHANGE, DELETE, VIEW, partition

pytestmark = pytest.mark.django_db(transaction=True)


def doc(user, doc_id):
    return Document.objects.get(app_id=APP, user_id=user, doc_id=doc_id)


def url_of(doc_id="n0", user="alice"):
    return reverse("console:document", args=[APP, user, "notes", doc_id])


def test_edit_replaces_through_the_core_audited_as_the_operator(operator, stored):
    client = operator("olga", VIEW, CHANGE)
    page = client.get(url_of()).content.decode()
    assert "<h2>Edit</h2>" in page
    seen = doc("alice", "n0").etag
    response = client.post(url_of(), {"etag": seen, "data": '{"status": "closed"}'})
    assert response.status_code == 302
    row = doc("alice", "n0")
    assert row.data == {"status": "closed"} and row.etag != seen
    audit = AuditEntry.objects.filter(doc_id="n0").order_by("-id").first()
    assert (audit.op, audit.actor, audit.etag) == ("update", "operator", row.etag)
    logged = LogEntry.objects.get(object_id=str(row.pk))
    assert logged.user.username == "olga" and row.etag in logged.change_message
    page = client.get(response["Location"]).content.decode()
    assert f"etag is now {row.etag}" in page


def test_stale_edit_is_refused_with_the_current_etag(operator, stored):
    client = operator("olga", VIEW, CHANGE)
    seen = doc("alice", "n0").etag
    stored.update(partition("alice"), "user", "notes", "n0", {"status": "moved"})
    current = doc("alice", "n0")
    response = client.post(url_of(), {"etag": seen, "data": '{"status": "mine"}'})
    assert response.status_code == 409
    page = response.content.decode()
    assert f"its current etag is {current.etag}" in page and seen in page
    assert "{&quot;status&quot;: &quot;mine&quot;}" in page  # the edit is kept
    after = doc("alice", "n0")
    assert (after.data, after.etag) == (current.data, current.etag)


@pytest.mark.parametrize(
    "data, message",
    [
        ("{broken", "must be JSON text"),
        ("[1, 2]", "JSON object"),
        ('{"n": NaN}', "NaN"),
    ],
)
def test_bad_edit_is_named_and_changes_nothing(operator, stored, data, message):
    client = operator("olga", VIEW, CHANGE)
    before = doc("alice", "n0")
    response = client.post(url_of(), {"etag": before.etag, "data": data})
    assert response.status_code == 400
    assert message in response.content.decode()
    after = doc("alice", "n0")
    assert (after.data, after.etag) == (before.data, before.etag)


def test_edit_without_change_permission_is_refused(operator, stored):
    client = operator("vera", VIEW)
    before = doc("alice", "n0")
    response = client.post(url_of(), {"etag": before.etag, "data": "{}"})
    assert response.status_code == 403
    assert b"store.change_document" in response.content
    assert doc("alice", "n0").etag == before.etag


def test_export_is_json_and_recorded(operator, stored):
    client = operator("olga", VIEW)
    response = client.get(reverse("console:export", args=[APP, "alice"]))
    body = json.loads(b"".join(response.streaming_content))
    assert body["count"] == 4 and body["user_id"] == "alice"
    action = OperatorAction.objects.get(action="export")
    assert (action.operator, action.user_id, action.documents) == ("olga", "alice", 4)


def test_erase_confirms_then_erases_only_that_partition(operator, stored):
    client = operator("olga", VIEW, DELETE)
    url = reverse("console:erase", args=[APP, "alice"])
    page = client.get(url).content.decode()
    assert "<strong>4</strong> documents" in page
    assert "<li>notes: 3</li>" in page and "<li>tags: 1</li>" in page
    assert "<strong>2</strong> cache entries" in page
    assert Document.objects.filter(user_id="alice").count() == 4  # GET erases nothing

    bob_before = list(Document.objects.filter(user_id="bob").values("doc_id", "etag"))
    page = client.post(url).content.decode()
    assert "4 documents and 2 cache entries deleted" in page
    assert not Document.objects.filter(user_id="alice").exists()
    assert list(Document.objects.filter(user_id="bob").values("doc_id", "etag")) == (
        bob_before
    )
    assert get_core().list_entries(partition("alice")) == []
    action = OperatorAction.objects.get(action="erase")
    assert (action.operator, action.documents, action.cache_entries) == ("olga", 4, 2)
    assert AuditEntry.objects.get(op="erase", user_id="alice").actor == "operator"


def test_erase_without_delete_permission_is_refused(operator, stored):
    client = operator("vera", VIEW)
    url = reverse("console:erase", args=[APP, "alice"])
    assert client.get(url).status_code == 403
    assert client.post(url).status_code == 403
    assert Document.objects.filter(user_id="alice").count() == 4
    page = client.get(reverse("console:partition", args=[APP, "alice"])).content
    assert b"Erase partition" not in page
