"""Operators' writes through the store core: each names the operator and records
what it changed in the same audit row, within bounds and without credentials; an
erase takes the partition's data out of the trail; bad calls write nothing."""

import pytest

from apps.store.changes import MAX_CHANGES, document_change
from apps.store.errors import DocumentExists, StoreConflict
from apps.store.models import AuditEntry, Document
from apps.store.partitions import Partitions

from .conftest import partition, stored_state

pytestmark = pytest.mark.django_db
OP = "operator"


def last_audit():
    return AuditEntry.objects.order_by("-id").first()


@pytest.fixture
def note(core):
    """alice's notes/n1 {"status": "open", "n": 1}, created by the extension."""
    return core.create(
        partition(), "user", "notes", {"doc_id": "n1", "status": "open", "n": 1}
    )


def test_an_operators_edit_records_their_name_and_the_change(core, note):
    saved = core.replace(
        partition(),
        OP,
        "notes",
        "n1",
        {"status": "done", "tags": ["x"]},
        note.etag,
        operator="olga",
    )
    row = Document.objects.get(doc_id="n1")
    assert row.data == {"status": "done", "tags": ["x"]} and row.etag == saved.etag
    audit = last_audit()
    assert (audit.op, audit.actor, audit.operator, audit.etag) == (
        "update",
        "operator",
        "olga",
        saved.etag,
    )
    # jsonb keeps keys in its own order: compare the paths as a set.
    assert audit.change["more"] == 0
    assert sorted(audit.change["changes"], key=lambda c: c["path"]) == [
        {"path": ["doc_id"], "before": "n1"},
        {"path": ["n"], "before": 1},
        {"path": ["status"], "before": "open", "after": "done"},
        {"path": ["tags"], "after": ["x"]},
    ]


def test_an_operators_edit_at_a_stale_etag_conflicts_and_writes_nothing(core, note):
    moved = core.update(partition(), "user", "notes", "n1", {"status": "moved"})
    before = stored_state()
    with pytest.raises(StoreConflict) as raised:
        core.replace(
            partition(), OP, "notes", "n1", {"x": 1}, note.etag, operator="olga"
        )
    assert raised.value.current_etag == moved.etag
    assert stored_state() == before


def test_an_operator_write_without_the_operators_name_is_refused(core, note):
    before = stored_state()
    with pytest.raises(ValueError, match="names its operator"):
        core.replace(partition(), OP, "notes", "n1", {"x": 1}, note.etag)
    with pytest.raises(ValueError, match="names its operator"):
        core.create(partition(), "user", "notes", {"x": 1}, operator="olga")
    with pytest.raises(ValueError, match="names its operator"):
        core.update(partition(), OP, "notes", "n1", {"x": 1})
    with pytest.raises(ValueError, match="at most 150 characters"):
        core.delete(partition(), OP, "notes", "n1", operator="o" * 151)
    with pytest.raises(ValueError, match="names its operator"):
        Partitions().erase(partition(), OP)
    assert stored_state() == before


def test_an_operators_create_records_the_data_as_added(core):
    doc = core.create(
        partition(), OP, "notes", {"title": "new"}, doc_id="hand", operator="olga"
    )
    assert doc.id == "hand" and doc.data == {"title": "new"}
    audit = last_audit()
    assert (audit.op, audit.operator, audit.doc_id) == ("create", "olga", "hand")
    assert audit.change["changes"] == [{"path": ["title"], "after": "new"}]


def test_create_refuses_two_different_ids_and_a_taken_one(core, note):
    before = stored_state()
    with pytest.raises(ValueError, match="give one, or the same id twice"):
        core.create(partition(), OP, "notes", {"doc_id": "a"}, doc_id="b", operator="o")
    with pytest.raises(DocumentExists):
        core.create(partition(), OP, "notes", {}, doc_id="n1", operator="olga")
    with pytest.raises(ValueError, match="doc_id must be"):
        core.create(partition(), OP, "notes", {}, doc_id="a/b", operator="olga")
    assert stored_state() == before


def test_an_operators_delete_records_what_was_deleted(core, note):
    assert core.delete(partition(), OP, "notes", "n1", note.etag, operator="olga")
    assert not Document.objects.filter(doc_id="n1").exists()
    audit = last_audit()
    assert (audit.op, audit.operator, audit.etag) == ("delete", "olga", "")
    assert {"path": ["status"], "before": "open"} in audit.change["changes"]


def test_an_operators_delete_at_a_stale_etag_deletes_nothing(core, note):
    core.update(partition(), "user", "notes", "n1", {"status": "moved"})
    before = stored_state()
    with pytest.raises(StoreConflict):
        core.delete(partition(), OP, "notes", "n1", note.etag, operator="olga")
    assert stored_state() == before
    assert core.delete(partition(), OP, "notes", "gone", operator="olga") is False
    assert stored_state() == before


def test_extension_writes_keep_no_change_and_no_operator(core, note):
    core.update(partition(), "user", "notes", "n1", {"status": "x"})
    assert [(a.operator, a.change) for a in AuditEntry.objects.all()] == [
        ("", None),
        ("", None),
    ]


def test_credential_like_keys_are_named_but_never_kept(core, note):
    core.replace(
        partition(),
        OP,
        "notes",
        "n1",
        {"api_token": "s3cret-new", "settings": {"password": "pw", "theme": "dark"}},
        note.etag,
        operator="olga",
    )
    change = last_audit().change
    text = str(change)
    assert "s3cret" not in text and "'pw'" not in text
    token = next(c for c in change["changes"] if c["path"] == ["api_token"])
    assert token == {"path": ["api_token"], "hidden": True, "after": "*" * 20}
    settings_entry = next(c for c in change["changes"] if c["path"] == ["settings"])
    assert settings_entry["after"] == {"password": "*" * 20, "theme": "dark"}


def test_large_values_keep_their_size_and_long_changes_are_counted(settings):
    settings.IMPERAL_AUDIT_CHANGE_MAX_BYTES = 100
    big = "x" * 5000
    change = document_change({"a": 1, "body": "short"}, {"a": 2, "body": big})
    assert change["changes"] == [
        {"path": ["a"], "before": 1, "after": 2},
        {"path": ["body"], "before": "short", "after_bytes": 5002},
    ]
    many = document_change({}, {f"k{n}": n for n in range(MAX_CHANGES + 7)})
    assert len(many["changes"]) == MAX_CHANGES and many["more"] == 7
    settings.IMPERAL_AUDIT_CHANGE_MAX_BYTES = 0
    assert document_change({"a": 1}, {"a": 2})["changes"] == [
        {"path": ["a"], "before_bytes": 1, "after_bytes": 1}
    ]


def test_nested_objects_are_compared_path_by_path():
    change = document_change(
        {"profile": {"city": "Oslo", "zip": "0150"}, "n": 1},
        {"profile": {"city": "Bergen", "zip": "0150"}, "n": 1.0},
    )
    assert change["changes"] == [
        {"path": ["profile", "city"], "before": "Oslo", "after": "Bergen"}
    ]


def test_an_erase_takes_the_partitions_data_out_of_the_trail(core, note):
    core.replace(
        partition(), OP, "notes", "n1", {"s": "alice's"}, note.etag, operator="o"
    )
    bob = partition(user_id="bob")
    core.create(bob, OP, "notes", {"s": "bob's"}, operator="olga")
    Partitions().erase(partition(), OP, operator="vera")
    alice_rows = AuditEntry.objects.filter(user_id="alice")
    assert not alice_rows.exclude(change=None).exists()
    erase = alice_rows.get(op="erase")
    assert (erase.actor, erase.operator) == ("operator", "vera")
    deleted = alice_rows.get(op="delete")
    assert (deleted.operator, deleted.change) == ("vera", None)
    assert AuditEntry.objects.get(user_id="bob").change["changes"] == [
        {"path": ["s"], "after": "bob's"}
    ]
