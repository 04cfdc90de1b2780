"""A user's data across the surfaces: summary, streamed export, erase.

The store's partition operations (:mod:`apps.store.partitions`), the cache
core's and the vault's, put together once for the user's own routes and the
operators'. Secrets are summarized, exported and erased by name: no value
ever leaves the vault here.
``ctx.db`` rows live in the extension's own schema, keyed however the
extension chose: the platform cannot tell whose they are, so the extension
erases them (the answer says so).
"""

import json
from urllib.parse import urlencode

from apps.cache.core import get_core
from apps.common.timestamps import rfc3339
from apps.extensions.lifecycle import run_uninstall
from apps.extensions.models import Extension as ExtensionRow
from apps.extensions.registry import get_registry
from apps.files.core import Files
from apps.secrets.core import Actor, Vault
from apps.secrets.models import Scope
from apps.store.models import AuditEntry
from apps.store.partitions import Partitions

CACHE_COUNT_MAX = 1000
MY_FILES_PATH = "/api/v1/me/files/"
EXPORT_CHUNK_BYTES = 64 * 1024
DB_ROWS_NOTE = (
    "ctx.db rows are not erased: they live in the extension's own schema, which "
    "the extension owns and keys as it chooses; ask the extension to erase them"
)


def known_app_ids():
    """Return the ids of every extension loaded now or ever synced, sorted (a user's
    data outlives the extension being loaded)."""
    synced = set(ExtensionRow.objects.values_list("app_id", flat=True))
    return sorted(synced | {loaded.app_id for loaded in get_registry()})


def summary(partition):
    """Return one partition's summary as JSON values: collections, cache entries,
    secrets set, files and their bytes."""
    found = Partitions().summary(partition)
    files, file_bytes = Files().summary(partition)
    core = get_core()
    entries = core.list_entries(partition, CACHE_COUNT_MAX + 1) if core else []
    return {
        "app_id": partition.app_id,
        "documents": found.documents,
        "collections": [
            {"name": c.name, "documents": c.documents} for c in found.collections
        ],
        "collections_truncated": found.truncated,
        "cache_entries": min(len(entries), CACHE_COUNT_MAX),
        "cache_entries_truncated": len(entries) > CACHE_COUNT_MAX,
        "secrets_set": len(Vault().stored_names(partition)),
        "files": files,
        "file_bytes": file_bytes,
    }


def erase(partition, actor, by=""):
    """Erase a partition's documents (audited as ``actor``; an operator's named
    ``by``, their username), cache entries, secrets (audited as ``actor`` named
    ``by``, default the partition's user) and files; return what was done as JSON
    values."""
    # The extension's on_uninstall runs first, while the data is still there.
    run_uninstall(partition.app_id, partition.user_id, partition.tenant_id, actor)
    operator = by if actor == AuditEntry.Actor.OPERATOR else ""
    deleted = Partitions().erase(partition, actor, operator=operator)
    core = get_core()
    cache_deleted, complete = core.erase_partition(partition) if core else (0, True)
    secrets = Vault().erase(partition, Actor(actor, by or partition.user_id))
    files = Files().erase(partition)
    return {
        "app_id": partition.app_id,
        "user_id": partition.user_id,
        "documents_deleted": deleted,
        "cache_entries_deleted": cache_deleted,
        "cache_erase_complete": complete,
        "secrets_deleted": secrets,
        "files_deleted": files,
        "db_rows": DB_ROWS_NOTE,
    }


def secret_names(partition):
    """Return the user's secrets in one extension as JSON values: each declared or
    stored name with ``is_set`` and ``updated_at``, never a value."""
    stored = dict(Vault().stored_names(partition))
    loaded = get_registry().get(partition.app_id)
    specs = loaded.ext.secrets.values() if loaded is not None else ()
    declared = [spec.name for spec in specs if spec.scope == Scope.USER]
    return [
        {
            "app_id": partition.app_id,
            "name": name,
            "is_set": name in stored,
            "updated_at": rfc3339(stored[name]) if name in stored else None,
        }
        for name in dict.fromkeys([*declared, *sorted(stored)])
    ]


def export_chunks(tenant_id, user_id, partitions, on_done=None):
    """Yield the export of ``partitions`` as JSON text in chunks of about
    EXPORT_CHUNK_BYTES: ``{"tenant_id", "user_id", "secrets": [...], "files":
    [...], "documents": [...], "count"}`` (secrets by name and ``is_set`` only;
    files by path, size, type and dates, with the API path of their bytes).

    One document per line; documents are read a page at a time, so memory
    stays flat whatever the size. ``on_done(count)`` runs once every
    document was read, before the last chunk.
    """
    secrets = [entry for p in partitions for entry in secret_names(p)]
    files = [entry for p in partitions for entry in file_entries(p)]
    head = json.dumps(
        {
            "tenant_id": tenant_id,
            "user_id": user_id,
            "secrets": secrets,
            "files": files,
        }
    )
    buffer, count, separator = [head[:-1], ', "documents": ['], 0, "\n"
    size = sum(map(len, buffer))
    store = Partitions()
    for partition in partitions:
        for document in store.export(partition):
            line = separator + json.dumps(exported(partition, document))
            buffer.append(line)
            size += len(line)
            count, separator = count + 1, ",\n"
            if size >= EXPORT_CHUNK_BYTES:
                yield "".join(buffer)
                buffer, size = [], 0
    buffer.append(f'\n], "count": {count}}}\n')
    if on_done is not None:
        on_done(count)
    yield "".join(buffer)


def exported(partition, document):
    """Return one exported document as JSON values."""
    return {
        "app_id": partition.app_id,
        "collection": document.collection,
        "id": document.id,
        "data": document.data,
        "created_at": document.created_at,
        "updated_at": document.updated_at,
        "etag": document.etag,
    }


def file_entries(partition):
    """Return the user's files in one extension as JSON values: path, size, type,
    dates and the API path that downloads the bytes (never the bytes)."""
    return [
        {
            "app_id": partition.app_id,
            "path": row.path,
            "size": row.size,
            "content_type": row.content_type,
            "created_at": rfc3339(row.created_at),
            "updated_at": rfc3339(row.updated_at),
            "download": f"{MY_FILES_PATH}{partition.app_id}?{urlencode({'path': row.path})}",
        }
        for row in Files().rows(partition)
    ]
