"""ctx.store under quotas: documents and bytes per partition, refused at the limit and
not before, on every database and connection; nothing half-written; exactly the
limit passes under concurrent writers."""

import pytest
from imperal_sdk.errors import QuotaExceededError

from apps.quotas.errors import QuotaExceeded
from apps.store import stats
from apps.store.connections import DjangoConnection
from apps.store.core import DocumentStore
from apps.store.models import Document
from tests.quotas.writers import WRITERS, race

from .conftest import partition, stored_state


def quotas(settings, **limits):
    """Set IMPERAL_QUOTAS for the test extension ``notes``."""
    settings.IMPERAL_QUOTAS = {"notes": limits}


def held_bytes(alias, app_id="notes", user_id="alice"):
    found = stats.Statistics(DjangoConnection(alias)).partition(
        partition(app_id, user_id)
    )
    return found.bytes if found else 0


@pytest.fixture
def alias(face_mode):
    from .conftest import SQLITE_ALIAS

    return SQLITE_ALIAS if face_mode == "sqlite" else "default"


def test_documents_refused_at_the_limit_and_not_before(store_of, settings):
    quotas(settings, **{"store.documents": 3})
    alice = store_of("notes", "alice")
    for n in range(3):
        alice.create("notes", {"n": n})
    before = stored_state()

    with pytest.raises(QuotaExceeded) as refused:
        alice.create("notes", {"n": 3})

    error = refused.value
    assert isinstance(error, QuotaExceededError)  # what SDK code catches
    assert error.code == "quota_exceeded" and error.status == 507
    assert error.quota == {
        "kind": "store.documents",
        "limit": 3,
        "usage": 3,
        "requested": 1,
        "window": "",
    }
    assert "store.documents" in str(error) and "'notes'" in str(error)
    assert stored_state() == before
    assert alice.count("notes") == 3


def test_the_limit_is_per_partition_and_a_delete_makes_room(store_of, settings):
    quotas(settings, **{"store.documents": 2})
    alice, bob = store_of("notes", "alice"), store_of("notes", "bob")
    first = alice.create("notes", {"n": 0})
    alice.create("tags", {"n": 1})  # every collection counts
    bob.create("notes", {"n": 0})
    bob.create("notes", {"n": 1})
    with pytest.raises(QuotaExceeded):
        alice.create("notes", {"n": 2})

    alice.delete("notes", first.id)

    assert alice.create("notes", {"n": 2}).data == {"n": 2}
    with pytest.raises(QuotaExceeded):
        alice.set("notes/new", {"n": 3})  # set creating a document counts too
    assert alice.set("notes/" + alice.query("notes").data[0].id, {"m": 1})


def test_a_users_own_limit_wins_over_the_extensions(store_of, settings):
    settings.IMPERAL_QUOTAS = {
        "notes": {"store.documents": 1, "users": {"bob": {"store.documents": 3}}},
        "*": {"store.documents": 0},
    }
    alice, bob = store_of("notes", "alice"), store_of("notes", "bob")
    alice.create("notes", {})
    with pytest.raises(QuotaExceeded):
        alice.create("notes", {})
    for _ in range(3):
        bob.create("notes", {})
    with pytest.raises(QuotaExceeded):
        bob.create("notes", {})
    with pytest.raises(QuotaExceeded) as refused:
        store_of("crm", "alice").create("contacts", {})  # "*" for every extension
    assert refused.value.quota["limit"] == 0


def test_bytes_refused_at_the_limit_and_not_before(store_of, settings, alias):
    alice = store_of("notes", "alice")
    one = {"text": "x" * 100}
    alice.create("notes", one)
    size = held_bytes(alias)
    assert size > 100
    quotas(settings, **{"store.bytes": 3 * size})
    alice.create("notes", one)
    last = alice.create("notes", one)
    assert held_bytes(alias) == 3 * size
    before = stored_state()

    with pytest.raises(QuotaExceeded) as refused:
        alice.create("notes", {"t": ""})
    with pytest.raises(QuotaExceeded):
        alice.update("notes", last.id, {"more": 1})  # growth by update
    with pytest.raises(QuotaExceeded):
        alice.set(f"notes/{last.id}", {"more": 1})

    assert refused.value.quota["kind"] == "store.bytes"
    assert refused.value.quota["usage"] == 3 * size
    assert refused.value.quota["requested"] > 0
    assert stored_state() == before
    shrunk = alice.update("notes", last.id, {"text": "x"})  # shrinking passes
    assert shrunk.data == {"text": "x"}
    assert held_bytes(alias) < 3 * size


def test_no_quota_means_no_limit_and_the_bytes_are_still_counted(store_of, alias):
    alice = store_of("notes", "alice")
    for n in range(5):
        alice.create("notes", {"n": n})
    assert held_bytes(alias) > 0


def own_store(index):
    return DocumentStore(DjangoConnection())  # the writer thread's own connection


@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_let_exactly_the_limit_pass(settings):
    limit = 5
    quotas(settings, **{"store.documents": limit})
    part = partition()

    outcomes = race(
        lambda i, store: store.create(part, "user", "notes", {"n": i}), own_store
    )

    assert outcomes == ["passed"] * limit + ["refused"] * (WRITERS - limit)
    assert Document.objects.filter(user_id="alice").count() == limit
    assert stats.Statistics().partition(part).documents == limit


@pytest.mark.django_db(transaction=True)
def test_concurrent_growth_by_bytes_never_passes_the_limit(settings):
    store, part = DocumentStore(DjangoConnection()), partition()
    store.create(part, "user", "notes", {"doc_id": "dx", "text": "x" * 50})
    size = stats.Statistics().partition(part).bytes
    quotas(settings, **{"store.bytes": 4 * size})

    outcomes = race(
        lambda i, own: own.create(
            part, "user", "notes", {"doc_id": f"d{i}", "text": "x" * 50}
        ),
        own_store,
    )

    assert outcomes.count("passed") == 3
    assert Document.objects.filter(user_id="alice").count() == 4
    assert stats.Statistics().partition(part).bytes == 4 * size
