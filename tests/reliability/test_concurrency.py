"""Concurrency through the production server: compare-and-set, racing upserts, erase.

Clients are imperal-sdk's own StoreClient (the gateway's wire protocol) and
the in-process ctx, all at once on one event loop against scripts/serve.sh.
"""

import asyncio
import threading

import httpx
import pytest
from asgiref.sync import async_to_sync
from imperal_sdk.store.exceptions import StoreConflict

from apps.store.models import AuditEntry, Document

from .live import api_token, in_process, platform_server, registry, sdk_store

__all__ = ["platform_server", "registry"]  # fixtures
pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
APP = "reliable"
CLIENTS = 8
INCREMENTS = 50


def documents(user_id, collection=None, app_id=APP):
    rows = Document.objects.filter(app_id=app_id, user_id=user_id)
    return rows.filter(collection=collection) if collection else rows


def test_compare_and_set_increments_through_the_gateway_end_at_exactly_400(
    platform_server, registry, alice
):
    store = sdk_store(platform_server, APP, "alice")
    conflicts = []

    async def increment_many():
        for _ in range(INCREMENTS):
            while True:
                doc = await store.get("counters", "hits")
                try:
                    await store.update(
                        "counters", "hits", {"n": doc.data["n"] + 1}, if_match=doc.etag
                    )
                    break
                except StoreConflict:
                    conflicts.append(1)

    async def run():
        await store.create("counters", {"doc_id": "hits", "n": 0})
        await asyncio.gather(*(increment_many() for _ in range(CLIENTS)))

    async_to_sync(run)()

    counter = documents("alice", "counters").get()
    assert counter.data["n"] == CLIENTS * INCREMENTS == 400
    updates = AuditEntry.objects.filter(app_id=APP, doc_id="hits", op="update")
    assert updates.count() == 400
    assert conflicts  # the clients did race


def test_concurrent_sets_of_one_key_through_gateway_and_in_process_make_one_document(
    platform_server, registry, alice
):
    ctx = in_process(registry, APP, "alice")
    store = sdk_store(platform_server, APP, "alice")
    outcomes = {"gateway": [], "inprocess": []}

    async def through_gateway(index):
        for n in range(10):
            try:
                await store.set("notes/one", {"doc_id": "one", "by": f"g{index}-{n}"})
                outcomes["gateway"].append("ok")
            except httpx.HTTPStatusError as exc:
                # imperal-sdk's own set() reads, then creates: a create that lost
                # the race to another writer is refused (409), never duplicated.
                outcomes["gateway"].append(exc.response.status_code)

    async def in_process_sets(index):
        for n in range(10):
            await ctx.store.set("notes/one", {"by": f"p{index}-{n}"})
            outcomes["inprocess"].append("ok")

    async def run():
        await asyncio.gather(
            *(through_gateway(i) for i in range(4)),
            *(in_process_sets(i) for i in range(4)),
        )

    async_to_sync(run)()

    assert documents("alice", "notes").count() == 1
    assert documents("alice", "notes").get().doc_id == "one"
    assert outcomes["inprocess"] == ["ok"] * 40
    assert set(outcomes["gateway"]) <= {"ok", 409}
    assert outcomes["gateway"].count("ok") > 0


def test_an_erase_racing_writes_leaves_no_half_erased_partition(
    platform_server, registry, alice
):
    """Writers create documents in order; after the erase each writer's surviving
    documents are exactly those after its last erased one, and every erased one
    has its audit row."""
    token = api_token(platform_server, alice)
    store = sdk_store(platform_server, APP, "alice")
    written, stop = {w: [] for w in range(4)}, threading.Event()

    async def writer(index):
        n = 0
        while not stop.is_set() or n < 20:
            n += 1
            await store.create("items", {"doc_id": f"w{index}-{n:05d}", "n": n})
            written[index].append(n)

    async def erase_midway():
        await asyncio.sleep(0.5)
        async with httpx.AsyncClient(
            base_url=platform_server.url, timeout=30
        ) as client:
            response = await client.delete(
                "/api/v1/me/data",
                params={"extension": APP},
                headers={"Authorization": f"Token {token}"},
            )
        await asyncio.sleep(0.3)
        stop.set()
        return response

    async def run():
        results = await asyncio.gather(erase_midway(), *(writer(i) for i in range(4)))
        return results[0]

    response = async_to_sync(run)()

    assert response.status_code == 200, response.text
    surviving = {doc.doc_id for doc in documents("alice", "items")}
    erased_audit = set(
        AuditEntry.objects.filter(app_id=APP, user_id="alice", op="delete").values_list(
            "doc_id", flat=True
        )
    )
    assert erased_audit, "the erase ran while the writers had written"
    assert surviving, "the writers went on after the erase"
    for index, numbers in written.items():
        ids = [f"w{index}-{n:05d}" for n in numbers]
        erased = [doc_id for doc_id in ids if doc_id not in surviving]
        assert set(erased) <= erased_audit
        # No survivor written before an erased document of the same writer.
        assert ids == erased + [doc_id for doc_id in ids if doc_id in surviving]
    assert len(surviving) + len(erased_audit) == sum(map(len, written.values()))
