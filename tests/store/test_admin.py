"""Operators browse partitions and the audit trail in the admin, read-only."""

import pytest

from .conftest import partition

pytestmark = pytest.mark.django_db


@pytest.fixture
def stored(core):
    doc = core.create(partition("notes", "alice"), "user", "contacts", {"name": "Ada"})
    core.create(partition("crm", "bob"), "user", "deals", {"doc_id": "deal-one"})
    return doc


def test_documents_can_be_browsed_by_app_collection_and_user(admin_client, stored):
    url = "/admin/store/document/"
    page = admin_client.get(url).content.decode()
    assert stored.id in page and "deal-one" in page
    page = admin_client.get(url, {"app_id": "crm"}).content.decode()
    assert "deal-one" in page and stored.id not in page
    page = admin_client.get(url, {"collection": "contacts"}).content.decode()
    assert stored.id in page and "deal-one" not in page
    page = admin_client.get(url, {"q": "alice"}).content.decode()
    assert stored.id in page and "deal-one" not in page


def test_a_document_and_its_audit_trail_are_read_only(admin_client, stored):
    from apps.store.models import AuditEntry, Document

    row = Document.objects.get(doc_id=stored.id)
    detail = admin_client.get(f"/admin/store/document/{row.pk}/change/")
    assert detail.status_code == 200 and "Ada" in detail.content.decode()
    assert admin_client.get("/admin/store/document/add/").status_code == 403
    assert (
        admin_client.post(f"/admin/store/document/{row.pk}/delete/").status_code == 403
    )
    audit = admin_client.get("/admin/store/auditentry/", {"app_id": "notes"})
    assert audit.status_code == 200 and stored.id in audit.content.decode()
    assert admin_client.get("/admin/store/auditentry/add/").status_code == 403
    assert AuditEntry.objects.count() == 2 and Document.objects.count() == 2
