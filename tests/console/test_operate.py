"""What an operator changes from the console: a partition's export and erase, and
a cache entry's delete, each recorded with the operator's name (the document
editor's writes: test_editor.py)."""

import json

import pytest
from django.urls import reverse

from apps.api.models import OperatorAction
from apps.cache.core import get_core
from apps.store.models import AuditEntry, Document

from .conftest import APP, DELETE, VIEW, partition

pytestmark = pytest.mark.django_db(transaction=True)


def doc(user, doc_id):
    return Document.objects.get(app_id=APP, user_id=user, doc_id=doc_id)


def url_of(doc_id="n0", user="alice"):
    return reverse("console:document", args=[APP, user, "notes", doc_id])


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
    erase = AuditEntry.objects.get(op="erase", user_id="alice")
    assert (erase.actor, erase.operator) == ("operator", "olga")
    deletes = AuditEntry.objects.filter(op="delete", user_id="alice")
    assert deletes.count() == 4 and set(deletes.values_list("operator", flat=True)) == {
        "olga"
    }


def test_erase_without_delete_permission_is_refused(operator, stored):
    client = operator("vera", VIEW)
    url = reverse("console:erase", args=[APP, "alice"])
    assert client.get(url).status_code == 403
    assert client.post(url).status_code == 403
    assert Document.objects.filter(user_id="alice").count() == 4
    page = client.get(reverse("console:partition", args=[APP, "alice"])).content
    assert b"Erase partition" not in page


def test_a_cache_delete_is_recorded_with_the_operators_name(operator, stored):
    client = operator("olga", VIEW, DELETE)
    entry = get_core().inspect_entries(partition("alice"), 10)[0]
    url = reverse("console:cache-delete", args=[APP, "alice"])
    client.post(url, {"model": entry.model, "key_hash": entry.key_hash})
    assert len(get_core().list_entries(partition("alice"))) == 1
    action = OperatorAction.objects.get(action="cache-delete")
    assert (action.operator, action.user_id) == ("olga", "alice")
    assert action.detail == {"model": entry.model, "key_hash": entry.key_hash}


def test_a_refused_cache_delete_records_nothing(operator, stored):
    client = operator("olga", VIEW, DELETE)
    url = reverse("console:cache-delete", args=[APP, "alice"])
    client.post(url, {"model": "note", "key_hash": "not-a-hash"})
    assert len(get_core().list_entries(partition("alice"))) == 2
    assert not OperatorAction.objects.exists()


def test_an_unknown_user_is_a_404_without_an_erase_button(operator, stored):
    client = operator("olga", VIEW, DELETE)
    for name in ("partition", "erase"):
        response = client.get(reverse(f"console:{name}", args=[APP, "nobody"]))
        page = response.content.decode()
        assert response.status_code == 404
        assert "No partition of user &#x27;nobody&#x27; in console-probe" in page
        assert f'href="{reverse("console:users", args=[APP])}"' in page
        assert "Erase partition" not in page and "Yes, erase" not in page
    assert (
        client.post(reverse("console:erase", args=[APP, "nobody"])).status_code == 404
    )
    assert not OperatorAction.objects.exists()
