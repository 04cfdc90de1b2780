"""Real concurrency on PostgreSQL: compare-and-set and the atomic upsert, from threads
with their own connections and from coroutines on the async face's worker threads."""

import asyncio
import threading

import pytest
from asgiref.sync import async_to_sync
from django.db import connections

from apps.store import pool
from apps.store.connections import DjangoConnection
from apps.store.core import DocumentStore
from apps.store.errors import StoreConflict
from apps.store.models import AuditEntry, Document

from .conftest import partition, user_ctx

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
WORKERS = 8
INCREMENTS = 50


def run_in_threads(target):
    """Run target(index) in WORKERS threads started together; re-raise their errors."""
    barrier, errors = threading.Barrier(WORKERS), []

    def worker(index):
        try:
            barrier.wait()
            target(index)
        except Exception as exc:  # reported to the test below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def increment(store, part, conflicts):
    """One read-modify-write of the counter, retried until its etag still matches."""
    while True:
        doc = store.get(part, "counters", "hits")
        try:
            return store.update(
                part, "user", "counters", "hits", {"n": doc["n"] + 1}, if_match=doc.etag
            )
        except StoreConflict:
            conflicts.append(1)


def test_concurrent_compare_and_set_loses_no_increment():
    part = partition()
    DocumentStore(DjangoConnection()).create(
        part, "user", "counters", {"doc_id": "hits", "n": 0}
    )
    conflicts = []

    def worker(index):
        store = DocumentStore(DjangoConnection())  # this thread's own connection
        for _ in range(INCREMENTS):
            increment(store, part, conflicts)

    run_in_threads(worker)
    assert Document.objects.get(doc_id="hits").data["n"] == WORKERS * INCREMENTS == 400
    assert AuditEntry.objects.filter(op="update").count() == 400
    assert conflicts, "the workers never collided; the test proved nothing"


def test_concurrent_sets_of_one_key_make_one_document_holding_every_write():
    part = partition()

    def worker(index):
        DocumentStore(DjangoConnection()).set(
            part, "user", "prefs/theme", {f"w{index}": index}
        )

    run_in_threads(worker)
    doc = Document.objects.get()
    assert doc.data == {f"w{i}": i for i in range(WORKERS)}
    assert AuditEntry.objects.filter(op="set").count() == WORKERS


@pytest.mark.parametrize("pool_size", [2, WORKERS])
def test_the_async_face_runs_compare_and_set_side_by_side_on_its_pool(
    settings, pool_size
):
    settings.IMPERAL_STORE_ASYNC_POOL = pool_size
    store = user_ctx("notes", "alice").store
    conflicts = []

    async def one_worker():
        for _ in range(INCREMENTS):
            while True:
                doc = await store.get("counters", "hits")
                try:
                    await store.update(
                        "counters", "hits", {"n": doc["n"] + 1}, if_match=doc.etag
                    )
                    break
                except StoreConflict:
                    conflicts.append(1)

    async def main():
        await store.create("counters", {"doc_id": "hits", "n": 0})
        await asyncio.gather(*(one_worker() for _ in range(WORKERS)))
        await asyncio.gather(
            *(store.set("prefs/theme", {f"w{i}": i}) for i in range(WORKERS))
        )

    async_to_sync(main)()
    pool.close_all()
    assert Document.objects.get(doc_id="hits").data["n"] == 400
    assert Document.objects.get(doc_id="theme").data == {
        f"w{i}": i for i in range(WORKERS)
    }
    assert conflicts, "the coroutines never collided; they ran one at a time"


def connections_to_this_database():
    with connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        )
        return cursor.fetchone()[0]


def test_every_event_loop_borrows_the_same_pooled_connection(settings):
    settings.IMPERAL_STORE_ASYNC_POOL = WORKERS
    store = user_ctx("notes", "alice").store
    before = connections_to_this_database()
    for n in range(5):  # async_to_sync runs each call on a new event loop
        async_to_sync(store.set)("prefs/theme", {"n": n})
    assert connections_to_this_database() == before + 1
    assert Document.objects.get().data == {"n": 4}
    pool.close_all()
