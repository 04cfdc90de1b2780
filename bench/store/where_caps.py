"""Time the costliest ``where`` the caps allow, on PostgreSQL or SQLite.

One user's partition holds ``--docs`` documents, each with one nested chain per
where key, as deep as a field may go. The where uses every cap in effect (the
settings' defaults unless the environment sets them: IMPERAL_STORE_WHERE_MAX_KEYS
keys on IMPERAL_STORE_FIELD_MAX_DEPTH-key paths, IMPERAL_STORE_WHERE_MAX_CONDITIONS
conditions, IMPERAL_STORE_WHERE_MAX_IN_VALUES $nin values), every condition true
so none is skipped, and runs through the synchronous core as ``count`` (the
whole partition) and ``query`` (limit 100, ordered by a deepest path); a one-key
where and the refusal of a 10,000-key where are timed beside it.
PostgreSQL (DATABASE_URL set): that database is dropped and created again, and
dropped at the end with the ctx.db roles its migration provisioned; SQLite (no
DATABASE_URL): a file under IMPERAL_VAR_DIR.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/imperal_bench_where \
        .venv/bin/python bench/store/where_caps.py [--docs 10000] [--rounds 5]
"""

import argparse
import json
import os
import random
import secrets
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The caps in effect (the settings' defaults unless the environment sets them).
KEYS = int(os.environ.get("IMPERAL_STORE_WHERE_MAX_KEYS", "16"))
CONDITIONS = int(os.environ.get("IMPERAL_STORE_WHERE_MAX_CONDITIONS", "32"))
IN_VALUES = int(os.environ.get("IMPERAL_STORE_WHERE_MAX_IN_VALUES", "500"))
DEPTH = int(os.environ.get("IMPERAL_STORE_FIELD_MAX_DEPTH", "8"))
SCOPE = ("default", "bench", "alice", "things")
COLUMNS = (
    "tenant_id, app_id, user_id, collection, doc_id, data, created_at, updated_at, etag"
)


def path(key):
    return ".".join([f"k{key}", *(f"l{level}" for level in range(1, DEPTH))])


def document(index):
    data = {}
    for key in range(KEYS):
        leaf = index % 97 if key % 2 else f"s{index % 89}"
        for level in reversed(range(1, DEPTH)):
            leaf = {f"l{level}": leaf}
        data[f"k{key}"] = leaf
    return data


def worst_where():
    """Every cap at its limit, every condition true for every document (so none is
    skipped) and every list searched to its end: KEYS keys on DEPTH-key paths,
    each with a $nin of absent values (IN_VALUES in all) and, while CONDITIONS
    allows, a second operator."""
    where, values = {}, iter(range(1000, 1000 + IN_VALUES))
    spare = CONDITIONS - KEYS
    for key in range(KEYS):
        absent = [
            next(values) for _ in range(IN_VALUES // KEYS + (key < IN_VALUES % KEYS))
        ]
        if key % 2:
            ops = {"$nin": absent, "$gte": 0}
        else:
            ops = {"$nin": [f"s{v}" for v in absent], "$startswith": "s"}
        if key >= spare:
            ops.popitem()
        where[path(key)] = ops
    assert sum(map(len, where.values())) == CONDITIONS
    assert sum(len(ops["$nin"]) for ops in where.values()) == IN_VALUES
    return where


def main():
    args = _arguments()
    url = os.environ.get("DATABASE_URL", "")
    if url:
        _recreate(url)
    os.environ.setdefault("IMPERAL_VAR_DIR", "/tmp/imperal-bench-where")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imperal_platform.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    try:
        _run(args)
    finally:
        _clean_up(url)


def _run(args):
    from django.core.management import call_command
    from django.db import connection

    from apps.accounts.partition import Partition
    from apps.store.connections import DjangoConnection
    from apps.store.core import DocumentStore

    call_command("migrate", verbosity=0)
    _load(connection, args.docs)
    store, partition = DocumentStore(DjangoConnection()), Partition(*SCOPE[:3])
    where, order_by = worst_where(), "-" + path(1)
    page = store.query(partition, "things", where, order_by, 100)
    matched = store.count(partition, "things", where)
    timings = {"query": [], "count": [], "count_simple": [], "refuse": []}
    for _ in range(args.rounds):
        timings["count_simple"].append(
            _timed(store.count, partition, "things", {"k1.l1": {"$exists": True}})
        )
        timings["query"].append(
            _timed(store.query, partition, "things", where, order_by, 100)
        )
        timings["count"].append(_timed(store.count, partition, "things", where))
        timings["refuse"].append(_refusal(store, partition))
    vendor = connection.vendor
    print(
        f"{vendor}: {args.docs:,} documents, {matched:,} match, page of {len(page.data)}"
    )
    for name, values in timings.items():
        unit, scale = ("µs", 1e6) if name == "refuse" else ("ms", 1e3)
        print(f"  {name}: median {statistics.median(values) * scale:.1f} {unit}, "
              f"max {max(values) * scale:.1f} {unit} ({args.rounds} rounds)")  # fmt: skip


def _timed(operation, *args):
    started = time.perf_counter()
    operation(*args)
    return time.perf_counter() - started


def _refusal(store, partition):
    where = {f"k{i}": i for i in range(10_000)}
    started = time.perf_counter()
    try:
        store.count(partition, "things", where)
    except ValueError:
        return time.perf_counter() - started
    raise AssertionError("a 10,000-key where was not refused")


def _load(connection, docs):
    base = datetime(2026, 1, 1, tzinfo=UTC)
    rows = []
    for index in range(docs):
        moment = base + timedelta(seconds=index)
        if connection.vendor == "sqlite":
            moment = moment.strftime("%Y-%m-%d %H:%M:%S.%f")
        rows.append((*SCOPE, f"d{index}", json.dumps(document(index)), moment, moment,
                     secrets.token_hex(16)))  # fmt: skip
    random.shuffle(rows)
    cast = "%s::jsonb" if connection.vendor == "postgresql" else "%s"
    sql = f"INSERT INTO store_document ({COLUMNS}) VALUES (%s, %s, %s, %s, %s, {cast}, %s, %s, %s)"
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM store_document")
        cursor.executemany(sql, rows)
        cursor.execute("ANALYZE store_document")


def _recreate(url):
    import psycopg

    server, database = url.rsplit("/", 1)
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {database}")


def _clean_up(url):
    from django.db import connections

    from apps.db.core import close_pools, get_backend

    if url:
        get_backend().deprovision_all()
    close_pools()
    connections.close_all()
    if url:
        import psycopg

        server, database = url.rsplit("/", 1)
        with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


def _arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=10_000, help="in one partition")
    parser.add_argument("--rounds", type=int, default=5, help="timed runs of each")
    return parser.parse_args()


if __name__ == "__main__":
    main()
