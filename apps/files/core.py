"""ctx.storage's core: one partition's files on Django's storage API.

Every face (ctx.storage, the gateway, the user's export and erase, the
console) calls :class:`Files`. The rules (apps.files.rules) are checked
before anything is written; the bytes go to the ``extfiles`` storage
(STORAGES["extfiles"]: a folder under var/ by default, any Django storage in
production, S3-compatible through django-storages) under a key the platform
makes up, and a StoredFile row, found only by the full partition key and the
path, is the one way back to them. Bytes stream through in chunks: no whole
file is held in memory by this core.
"""

import base64
import binascii
import contextlib
import logging
import uuid

from django.core.files.base import ContentFile, File
from django.core.files.storage import storages
from django.db import IntegrityError, transaction
from django.db.models import Count, Sum
from django.db.models.functions import Substr
from django.utils import timezone
from imperal_sdk.types.models import FileInfo
from imperal_sdk.types.pagination import Page

from apps.accounts.partition import Partition
from apps.common.timestamps import rfc3339
from apps.quotas import counters
from apps.quotas import limits as quota_limits
from apps.quotas.errors import QuotaExceeded

from . import rules
from .errors import FileMissing, StorageUnavailable
from .models import StoredFile

logger = logging.getLogger(__name__)

STORAGE_ALIAS = "extfiles"
LIST_DEFAULT = 100
LIST_MAX = 1000
CURSOR_MAX_CHARS = 1024
CHUNK_BYTES = 64 * 1024


def storage():
    """Return the Django storage holding extension files (STORAGES["extfiles"])."""
    return storages[STORAGE_ALIAS]


FILE_BYTES = "files.bytes"


def check_quota(partition, path, size):
    """Refuse early an upload that cannot fit ``partition``'s file bytes; return None.

    Raises QuotaExceeded before any byte is written. Only an early answer, read
    without a lock: the charge in the row's transaction (:meth:`Files._index`)
    is what holds under concurrent uploads.
    """
    limit = quota_limits.limit_for(partition, FILE_BYTES)
    if limit is None:
        return
    replaced = StoredFile.objects.in_partition(partition).filter(path=path)
    growth = size - (replaced.values_list("size", flat=True).first() or 0)
    used = counters.usage(FILE_BYTES, partition)
    if growth > 0 and used + growth > limit:
        raise QuotaExceeded(FILE_BYTES, limit, used, growth, app_id=partition.app_id)


def recount_file_bytes(**_):
    """Answer reconcile_quotas: ("files.bytes", {partition: bytes held}) from the rows."""
    held = StoredFile.objects.values("tenant_id", "app_id", "user_id").annotate(
        held=Sum("size")
    )
    return FILE_BYTES, {
        Partition(row["tenant_id"], row["app_id"], row["user_id"]): row["held"]
        for row in held
    }


def _account(partition, growth):
    """Charge (or give back) ``growth`` file bytes in the caller's transaction.

    Raises QuotaExceeded past the limit; the caller's transaction rolls back.
    """
    if growth > 0:
        counters.charge(FILE_BYTES, partition, growth)
    elif growth < 0:
        counters.release(FILE_BYTES, partition, -growth)


class Files:
    """One core for every face of ctx.storage."""

    def upload(self, partition, path, content, content_type=None):
        """Store ``content`` (bytes, or a Django File) at ``path``; return its FileInfo.

        Replaces a file already at ``path``. Raises ValueError/TypeError naming
        the broken rule, FileTooLarge, StorageUnavailable; nothing is stored
        when any is raised.
        """
        rules.check_path(partition, path)
        content_type = rules.check_content_type(content_type)
        content = _as_file(content)
        rules.check_size(content.size)
        check_quota(partition, path, content.size)
        key = self._save(content)
        try:
            row, replaced_key = self._index(partition, path, key, content, content_type)
        except BaseException:
            self._forget(key)
            raise
        if replaced_key:
            transaction.on_commit(lambda: self._forget(replaced_key))
        return file_info(row)

    def open(self, partition, path):
        """Return (StoredFile, a readable binary file) of ``path``; the caller closes it.

        Raises FileMissing, StorageUnavailable.
        """
        row = self._row(partition, path)
        with _backend("open", row.storage_key):
            return row, storage().open(row.storage_key, "rb")

    def read(self, partition, path):
        """Return the bytes of ``path``. Raises FileMissing, StorageUnavailable."""
        row, handle = self.open(partition, path)
        with handle, _backend("read", row.storage_key):
            return handle.read()

    def info(self, partition, path):
        """Return the FileInfo of ``path``. Raises FileMissing."""
        return file_info(self._row(partition, path))

    def list(self, partition, prefix="", limit=LIST_DEFAULT, cursor=None):
        """Return a Page of FileInfo under ``prefix``, by path, ``limit`` at most.

        ``cursor`` is what the previous page returned. Raises ValueError for a
        bad prefix, limit or cursor.
        """
        prefix = rules.check_prefix(partition, prefix)
        limit = _check_limit(limit)
        rows = self.rows(partition, prefix)
        total = rows.count()
        if cursor:
            rows = rows.filter(path__gt=decode_cursor(cursor))
        page = list(rows[: limit + 1])
        has_more = len(page) > limit
        page = page[:limit]
        next_cursor = encode_cursor(page[-1].path) if has_more else None
        return Page(
            data=[file_info(row) for row in page],
            cursor=next_cursor,
            has_more=has_more,
            total=total,
        )

    def rows(self, partition, prefix=""):
        """Return the partition's StoredFile rows under ``prefix`` (case-sensitive), by path."""
        rows = StoredFile.objects.in_partition(partition)
        if prefix:
            rows = rows.annotate(head=Substr("path", 1, len(prefix))).filter(
                head=prefix
            )
        return rows.order_by("path")

    def delete(self, partition, path):
        """Delete the file at ``path``; return whether there was one."""
        rules.check_path(partition, path)
        with transaction.atomic():
            row = (
                StoredFile.objects.in_partition(partition)
                .select_for_update()
                .filter(path=path)
                .first()
            )
            if row is None:
                return False
            row.delete()
            _account(partition, -row.size)
            key = row.storage_key
            transaction.on_commit(lambda: self._forget(key))
        return True

    def erase(self, partition):
        """Delete every file of ``partition``; return how many there were."""
        with transaction.atomic():
            rows = StoredFile.objects.in_partition(partition).select_for_update()
            held = list(rows.values_list("storage_key", "size"))
            keys = [key for key, _ in held]
            StoredFile.objects.in_partition(partition).delete()
            _account(partition, -sum(size for _, size in held))
            transaction.on_commit(lambda: [self._forget(k) for k in keys])
        return len(keys)

    def summary(self, partition):
        """Return (files, bytes) of ``partition``."""
        found = StoredFile.objects.in_partition(partition).aggregate(
            files=Count("id"), bytes=Sum("size")
        )
        return found["files"], found["bytes"] or 0

    # --- helpers ---------------------------------------------------------
    def _row(self, partition, path):
        rules.check_path(partition, path)
        row = StoredFile.objects.in_partition(partition).filter(path=path).first()
        if row is None:
            raise FileMissing(path)
        return row

    def _save(self, content):
        key = new_key()
        with _backend("write", key):
            content.seek(0)
            return storage().save(key, content)

    def _index(self, partition, path, key, content, content_type):
        """Point ``path`` at ``key``; return (row, the key it replaced or None)."""
        now = timezone.now()
        fields = {"storage_key": key, "size": content.size}
        fields.update(content_type=content_type, updated_at=now)
        for attempt in (1, 2):
            try:
                with transaction.atomic():
                    rows = StoredFile.objects.in_partition(partition)
                    row = rows.select_for_update().filter(path=path).first()
                    if row is None:
                        _account(partition, content.size)
                        row = StoredFile.objects.create(
                            **partition.fields(), path=path, created_at=now, **fields
                        )
                        return row, None
                    _account(partition, content.size - row.size)
                    replaced = row.storage_key
                    for name, value in fields.items():
                        setattr(row, name, value)
                    row.save(update_fields=list(fields))
                    return row, replaced
            except IntegrityError:
                if attempt == 2:  # a concurrent upload created it: replace that
                    raise

    def _forget(self, key):
        """Delete the bytes under ``key``; a failure is logged (the row is gone)."""
        try:
            storage().delete(key)
        except Exception as exc:  # an orphan object is logged, never fatal
            logger.error(
                "ctx.storage: bytes under %s not deleted: %s: %s",
                key,
                type(exc).__name__,
                exc,
            )


def new_key():
    """Return a fresh storage key: random, never derived from a path or a user."""
    name = uuid.uuid4().hex
    return f"{name[:2]}/{name}"


def file_info(row):
    """Return the SDK's FileInfo of a StoredFile (no URL: bytes go through the gateway)."""
    return FileInfo(
        path=row.path,
        size=row.size,
        content_type=row.content_type,
        created_at=rfc3339(row.created_at),
        url="",
    )


def chunks(handle, size=CHUNK_BYTES):
    """Yield ``handle``'s bytes ``size`` at a time."""
    while chunk := handle.read(size):
        yield chunk


def encode_cursor(path):
    """Return the opaque cursor continuing after ``path``."""
    return base64.urlsafe_b64encode(path.encode()).decode().rstrip("=")


def decode_cursor(cursor):
    """Return the path a cursor continues after; ValueError if it is not one."""
    if not isinstance(cursor, str) or len(cursor) > CURSOR_MAX_CHARS:
        raise ValueError(
            f"ctx.storage: cursor must be a string of at most {CURSOR_MAX_CHARS} "
            "characters, as a page of files returned it"
        )
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValueError(
            f"ctx.storage: cursor {cursor[:40]!r} is not one a page of files returned"
        ) from None


def _check_limit(limit):
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise TypeError(f"ctx.storage: limit must be an integer, got {limit!r:.40}")
    if not 1 <= limit <= LIST_MAX:
        raise ValueError(
            f"ctx.storage: limit must be between 1 and {LIST_MAX}, got {limit}"
        )
    return limit


def _as_file(content):
    if isinstance(content, bytes | bytearray | memoryview):
        return ContentFile(bytes(content))
    if isinstance(content, File):
        return content
    raise TypeError(f"ctx.storage: data must be bytes, got {type(content).__name__}")


@contextlib.contextmanager
def _backend(operation, key):
    """Translate a storage backend's failure into StorageUnavailable."""
    try:
        yield
    except FileNotFoundError as exc:
        raise StorageUnavailable(
            f"ctx.storage: the bytes under {key} are missing from the storage "
            f"({operation}): {exc}"
        ) from None
    except Exception as exc:
        if isinstance(exc, StorageUnavailable):
            raise
        logger.warning(
            "ctx.storage %s failed: %s: %s", operation, type(exc).__name__, exc
        )
        raise StorageUnavailable(
            f"ctx.storage: the file storage failed to {operation} "
            f"({type(exc).__name__}); retry later"
        ) from None
