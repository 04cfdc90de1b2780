"""Partitions the console's browser tests browse: written in the test process,
committed, then read by the live server (same database, same cache backend)."""

from apps.accounts.partition import Partition
from apps.cache.core import get_core
from apps.extensions.registry import get_registry
from apps.store.connections import DjangoConnection
from apps.store.core import DocumentStore

APP = "my-app"
ALICE, BOB = "e2e-alice", "e2e-bob"


def partition(user):
    return Partition("default", APP, user)


def store():
    return DocumentStore(DjangoConnection())


def seed():
    """alice: notes n0 (open), n1 (done), n2 (open) and one tag; bob: one note."""
    documents = store()
    for n, status in enumerate(("open", "done", "open")):
        documents.create(
            partition(ALICE), "user", "notes", {"doc_id": f"n{n}", "status": status}
        )
    documents.create(partition(ALICE), "user", "tags", {"doc_id": "t0", "name": "x"})
    documents.create(
        partition(BOB), "user", "notes", {"doc_id": "b0", "status": "open"}
    )
    return documents


def cache_entry(user, key, model_name, data, ttl_seconds):
    """Write one ctx.cache entry of my-app's ``model_name`` as ``user``; return the
    cache core. The class comes from the loaded extension, as a handler's would."""
    ext = get_registry().get(APP).ext
    value = ext._cache_models[model_name](**data)
    core = get_core()
    core.set(partition(user), ext, key, value, ttl_seconds)
    return core


def clear_cache(*users):
    core = get_core()
    for user in users:
        core.erase_partition(partition(user))
