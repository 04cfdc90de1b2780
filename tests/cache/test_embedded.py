"""What only the embedded backend has to do itself: expiry on read, purging old rows."""

import sqlite3
import time

from apps.cache.backends.embedded import _CAPPED_UPSERT, CacheBackend


def rows(path):
    with sqlite3.connect(path) as connection:
        return connection.execute("SELECT count(*) FROM cache_entry").fetchone()[0]


def test_expired_rows_never_read_and_are_purged_in_bounded_batches(tmp_path):
    path = tmp_path / "extcache.sqlite3"
    backend = CacheBackend(path=path)
    backend.purge_batch = 3
    for index in range(5):
        backend.set(f"p:{{t:a:u}}:m:{index}", b"{}", 5)
    assert rows(path) == 5
    later = time.time() + 6
    backend.clock = lambda: later
    assert backend.get("p:{t:a:u}:m:0") is None
    assert backend.list("p:{t:a:u}:", 10) == []
    assert backend.purge_expired() == 3
    assert backend.purge_expired() == 2
    assert rows(path) == 0


def test_every_few_writes_purge_what_expired(tmp_path):
    path = tmp_path / "extcache.sqlite3"
    backend = CacheBackend(path=path)
    backend.purge_every = 4
    backend.set("old", b"{}", 5)
    later = time.time() + 6
    backend.clock = lambda: later
    for index in range(3):
        backend.set(f"new:{index}", b"{}", 60)
    assert rows(path) == 3
    assert backend.get("new:0") == b"{}"


def test_the_file_is_in_wal_mode_for_readers_beside_a_writer(tmp_path):
    path = tmp_path / "extcache.sqlite3"
    CacheBackend(path=path).set("k", b"{}", 60)
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_capped_write_counts_the_partition_from_the_index_alone(tmp_path):
    path = tmp_path / "extcache.sqlite3"
    backend = CacheBackend(path=path)
    for index in range(3):
        assert backend.set(f"p:{{t:a:u}}:m:{index}", b"x" * 60_000, 60, cap=3)
    assert backend.set("p:{t:a:u}:m:new", b"{}", 60, cap=3) is False
    with sqlite3.connect(path) as connection:
        plan = connection.execute(
            f"EXPLAIN QUERY PLAN {_CAPPED_UPSERT}",
            ("k", b"", 0.0, 0.0, "p:{t:a:u}:", "p:{t:a:u};", 3),
        ).fetchall()
    details = " | ".join(row[-1] for row in plan)
    assert "COVERING INDEX cache_entry_live" in details, details
