"""ctx.cache embedded: one SQLite file that every process of the deployment shares.

Chosen over Django's FileBasedCache (no way to list one partition's entries)
and DatabaseCache (pickled values, lives in the platform database, and its
culling is not per-entry expiry): a small table of our own gives byte-exact
values, expiry checked on every read, and prefix listing as a range scan of
the primary key. WAL lets the web process and the worker read beside a writer.
"""

import os
import sqlite3
import threading
import time
from pathlib import Path

from .base import BackendUnavailable, CacheBackendBase, StoredEntry, partition_prefix

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cache_entry (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL,
    expires_at REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS cache_entry_expires ON cache_entry (expires_at);
CREATE INDEX IF NOT EXISTS cache_entry_live ON cache_entry (key, expires_at);
"""
# cache_entry_live lets a partition's live entries be counted from the index
# alone: in the table, expires_at comes after a value of up to 64 KB, on its
# overflow pages, and counting through them cost milliseconds per new key.
_UPSERT = (
    "INSERT INTO cache_entry (key, value, expires_at) VALUES (?, ?, ?) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
    "expires_at = excluded.expires_at"
)
# One statement, so the count and the write are one step: a live entry is
# replaced; a new key goes in only while its partition (the key range
# [?5, ?6)) holds fewer than ?7 live entries.
_CAPPED_UPSERT = (
    "INSERT INTO cache_entry (key, value, expires_at) SELECT ?1, ?2, ?3 "
    "WHERE EXISTS (SELECT 1 FROM cache_entry WHERE key = ?1 AND expires_at > ?4) "
    "OR (SELECT count(*) FROM (SELECT 1 FROM cache_entry WHERE key >= ?5 "
    "AND key < ?6 AND expires_at > ?4 LIMIT ?7)) < ?7 "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
    "expires_at = excluded.expires_at"
)


class CacheBackend(CacheBackendBase):
    """Entries are rows (key, value, expires_at); expired rows never read as hits.

    Expired rows are purged in bounded batches every ``purge_every`` writes.
    One connection per process, serialized by a lock: cache statements take
    microseconds, and reconnecting per thread would cost more than they do.
    """

    name = "embedded"
    busy_timeout = 2.0
    purge_every = 200
    purge_batch = 500
    clock = staticmethod(time.time)

    def __init__(self, path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._connection = None
        self._pid = None
        self._writes = 0

    def get(self, key):
        rows = self._query(
            "SELECT value FROM cache_entry WHERE key = ? AND expires_at > ?",
            (key, self.clock()),
        )
        return bytes(rows[0][0]) if rows else None

    def get_many(self, keys):
        if not keys:
            return []
        marks = ",".join("?" * len(keys))
        rows = self._query(
            f"SELECT key, value FROM cache_entry WHERE key IN ({marks}) "
            "AND expires_at > ?",
            (*keys, self.clock()),
        )
        found = {key: bytes(value) for key, value in rows}
        return [found.get(key) for key in keys]

    def set(self, key, value, ttl_seconds, cap=None):
        now = self.clock()
        if cap is None:
            stored = self._write(_UPSERT, (key, value, now + ttl_seconds))
        else:
            prefix = partition_prefix(key)
            stored = self._write(
                _CAPPED_UPSERT,
                (key, value, now + ttl_seconds, now, prefix, _after(prefix), cap),
            )
        self._writes += 1
        if self._writes % self.purge_every == 0:
            self.purge_expired(now)
        return stored == 1

    def delete(self, keys):
        marks = ",".join("?" * len(keys))
        self._write(f"DELETE FROM cache_entry WHERE key IN ({marks})", tuple(keys))

    def list(self, prefix, limit):
        now = self.clock()
        rows = self._query(
            "SELECT key, expires_at, length(value) FROM cache_entry "
            "WHERE key >= ? AND key < ? AND expires_at > ? ORDER BY key LIMIT ?",
            (prefix, _after(prefix), now, limit),
        )
        # Redis's TTL answers whole seconds, rounded down; so does this.
        return [
            StoredEntry(key, int(expires - now), size) for key, expires, size in rows
        ]

    def count(self, prefixes, cap):
        now, counts = self.clock(), []
        for prefix in prefixes:
            rows = self._query(
                "SELECT count(*) FROM (SELECT 1 FROM cache_entry WHERE key >= ? "
                "AND key < ? AND expires_at > ? LIMIT ?)",
                (prefix, _after(prefix), now, cap + 1),
            )
            counts.append(rows[0][0])
        return counts

    def purge_expired(self, now=None):
        """Delete up to ``purge_batch`` expired rows; return how many went."""
        return self._write(
            "DELETE FROM cache_entry WHERE key IN (SELECT key FROM cache_entry "
            "WHERE expires_at <= ? LIMIT ?)",
            (self.clock() if now is None else now, self.purge_batch),
        )

    def close(self):
        with self._lock:
            if self._connection is not None:
                self._connection.close()
            self._connection = None

    def _query(self, sql, params):
        """Return all rows of a SELECT; raise BackendUnavailable on any failure."""
        try:
            with self._lock:
                return self._connect().execute(sql, params).fetchall()
        except (sqlite3.Error, OSError) as exc:
            raise BackendUnavailable(f"{type(exc).__name__}: {exc}") from exc

    def _write(self, sql, params):
        """Run one statement (atomic on its own); return the rows it changed."""
        try:
            with self._lock:
                return self._connect().execute(sql, params).rowcount
        except (sqlite3.Error, OSError) as exc:
            raise BackendUnavailable(f"{type(exc).__name__}: {exc}") from exc

    def _connect(self):
        # A forked worker must not share its parent's SQLite connection.
        if self._connection is None or self._pid != os.getpid():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(
                self.path,
                timeout=self.busy_timeout,
                isolation_level=None,
                check_same_thread=False,
            )
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.executescript(_SCHEMA)
            self._connection, self._pid = connection, os.getpid()
        return self._connection


def _after(prefix):
    """Return the smallest string above every key that starts with ``prefix``."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)
