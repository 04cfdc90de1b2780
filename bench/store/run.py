"""Benchmark ctx.store on PostgreSQL against raw prepared psycopg, at 10k and 1M documents.

Creates a throwaway database (DATABASE_URL's, else imperal_bench_store), lets the
ORM's migrations build the schema, loads documents with COPY (100 per user), then
times each operation through the real async ``ctx.store`` beside the same
operation as hand-written SQL on a prepared psycopg AsyncConnection, alternating
the two on the same random keys so they share the machine's noise. The database,
and the ctx.db roles that migrating it provisioned, are dropped at the end.

    .venv/bin/python bench/store/run.py [--users 10000] [--samples 3000]
"""

import argparse
import asyncio
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
# DATABASE_URL names the throwaway database (it is dropped and created again),
# else BENCH_PG the server and imperal_bench_store the database.
_URL = os.environ.get("DATABASE_URL", "")
if _URL.startswith(("postgres://", "postgresql://")):
    SERVER, DATABASE = _URL.rsplit("/", 1)
else:
    SERVER = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
    DATABASE = "imperal_bench_store"
DOCS_PER_USER = 100
SMALL_USERS = 100  # the 10k-document phase
WARM_UP = 200
WHERE = {"status": "active"}
COLUMNS = (
    "tenant_id, app_id, user_id, collection, doc_id, data, created_at, updated_at, etag"
)
ROW = "doc_id, data, created_at, updated_at, etag"
PARTITION = "tenant_id = %s AND app_id = %s AND user_id = %s AND collection = %s"
RAW = {
    "get": f"SELECT {ROW} FROM store_document WHERE {PARTITION} AND doc_id = %s",
    "query": f"SELECT {ROW} FROM store_document WHERE {PARTITION} AND data @> %s::jsonb "
    "ORDER BY updated_at DESC LIMIT 50",
    "count": f"SELECT count(*) FROM store_document WHERE {PARTITION} AND data @> %s::jsonb",
    "create": f"INSERT INTO store_document ({COLUMNS}) "
    "VALUES (%s, %s, %s, %s, %s, %s::jsonb, %s, %s, %s)",
    "update": "UPDATE store_document SET data = data || %s::jsonb, updated_at = %s, "
    f"etag = %s WHERE {PARTITION} AND doc_id = %s",
}
GATES = {"get": 2.5, "query": 2.0}


def main():
    args = _arguments()
    _create_database()
    os.environ["DATABASE_URL"] = f"{SERVER}/{DATABASE}"
    os.environ.setdefault("IMPERAL_VAR_DIR", "/tmp/imperal-bench-store")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imperal_platform.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    try:
        asyncio.run(_run(args))
    finally:
        _clean_up(args.keep)


def _clean_up(keep):
    """Close every connection; unless ``keep``, drop the database and the ctx.db roles
    that migrating it provisioned (roles are cluster-wide and would outlive it)."""
    from django.db import connections

    from apps.db.core import close_pools, get_backend
    from apps.store import pool

    pool.close_all()
    if not keep:
        get_backend().deprovision_all()
    close_pools()
    connections.close_all()
    if not keep:
        _drop_database()


async def _run(args):
    import psycopg
    from asgiref.sync import sync_to_async
    from django.core.management import call_command

    await sync_to_async(call_command)("migrate", verbosity=0)
    raw = await psycopg.AsyncConnection.connect(f"{SERVER}/{DATABASE}", autocommit=True)
    bench = Bench(raw, args.samples)
    _load(0, SMALL_USERS)
    small = await bench.pair("query", range(SMALL_USERS))
    _load(SMALL_USERS, args.users)
    results = {name: await bench.pair(name, range(args.users)) for name in RAW}
    await raw.close()
    _report(args, results, small)


class Bench:
    """Times ctx.store and raw SQL on the same random keys, alternately."""

    def __init__(self, raw, samples):
        self.raw = raw
        self.samples = samples
        self.stores = {}

    async def pair(self, name, users):
        """Return (ctx.store median µs, raw median µs) of operation ``name``."""
        store_op, raw_op = getattr(self, f"store_{name}"), getattr(self, f"raw_{name}")
        users, timings = list(users), {store_op: [], raw_op: []}
        for index in range(self.samples + WARM_UP):
            user = random.choice(users)
            uid = f"u{user:05d}"
            doc = f"d{user * DOCS_PER_USER + random.randrange(DOCS_PER_USER)}"
            self.store(uid)  # a handler's ctx exists before it calls the store
            ops = (store_op, raw_op) if index % 2 else (raw_op, store_op)
            for op in ops:
                started = time.perf_counter()
                await op(uid, doc)
                if index >= WARM_UP:  # connections, prepared statements, caches
                    timings[op].append(time.perf_counter() - started)
        return tuple(statistics.median(timings[op]) * 1e6 for op in (store_op, raw_op))

    def store(self, uid):
        if uid not in self.stores:
            self.stores[uid] = _context(uid).store
        return self.stores[uid]

    async def store_get(self, uid, doc):
        assert await self.store(uid).get("items", doc) is not None

    async def store_query(self, uid, doc):
        page = await self.store(uid).query(
            "items", where=WHERE, order_by="-updated_at", limit=50
        )
        assert len(page.data) == 50

    async def store_count(self, uid, doc):
        assert await self.store(uid).count("items", where=WHERE) > 0

    async def store_create(self, uid, doc):
        await self.store(uid).create(
            "items", {"title": "new", "status": "idle", "n": 1}
        )

    async def store_update(self, uid, doc):
        await self.store(uid).update("items", doc, {"n": random.randrange(100)})

    async def raw_get(self, uid, doc):
        cur = await self.raw.execute(RAW["get"], (*_scope(uid), doc), prepare=True)
        assert await cur.fetchone() is not None

    async def raw_query(self, uid, doc):
        params = (*_scope(uid), json.dumps(WHERE))
        cur = await self.raw.execute(RAW["query"], params, prepare=True)
        assert len(await cur.fetchall()) == 50

    async def raw_count(self, uid, doc):
        params = (*_scope(uid), json.dumps(WHERE))
        cur = await self.raw.execute(RAW["count"], params, prepare=True)
        assert (await cur.fetchone())[0] > 0

    async def raw_create(self, uid, doc):
        now, data = (
            datetime.now(UTC),
            json.dumps({"title": "new", "status": "idle", "n": 1}),
        )
        params = (
            *_scope(uid),
            secrets.token_hex(16),
            data,
            now,
            now,
            secrets.token_hex(16),
        )
        await self.raw.execute(RAW["create"], params, prepare=True)

    async def raw_update(self, uid, doc):
        patch = json.dumps({"n": random.randrange(100)})
        params = (patch, datetime.now(UTC), secrets.token_hex(16), *_scope(uid), doc)
        await self.raw.execute(RAW["update"], params, prepare=True)


def _context(uid):
    from imperal_sdk import Extension

    from apps.accounts.identity import PlatformUserContext
    from apps.extensions.context import build_context

    global _EXTENSION
    _EXTENSION = _EXTENSION or Extension("bench", description="ctx.store benchmark")
    user = PlatformUserContext(
        imperal_id=uid, email="", tenant_id="default", role="user"
    )
    return build_context(_EXTENSION, user)


_EXTENSION = None


def _scope(uid):
    return ("default", "bench", uid, "items")


def _load(first_user, last_user):
    """COPY the documents of users [first_user, last_user), secondary indexes dropped."""
    import psycopg

    started = time.perf_counter()
    with psycopg.connect(f"{SERVER}/{DATABASE}", autocommit=True) as conn:
        indexes = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'store_document' "
            "AND indexname NOT IN ('store_document_pkey', 'store_document_key')"
        ).fetchall()
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        with conn.cursor().copy(f"COPY store_document ({COLUMNS}) FROM STDIN") as copy:
            for user in range(first_user, last_user):
                for row in _rows(user):
                    copy.write_row(row)
        for _, definition in indexes:
            conn.execute(definition)
        conn.execute("VACUUM ANALYZE store_document")
        count = conn.execute("SELECT count(*) FROM store_document").fetchone()[0]
    elapsed = time.perf_counter() - started
    print(
        f"loaded users {first_user}..{last_user - 1}: {count:,} documents, {elapsed:.0f} s"
    )


def _rows(user):
    uid, base = f"u{user:05d}", datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(user * DOCS_PER_USER, (user + 1) * DOCS_PER_USER):
        moment = base + timedelta(seconds=i)
        status = "idle" if i % 3 == 0 else "active"
        data = {"title": f"item {i}", "status": status, "n": i % 100, "owner_id": uid}
        yield (*_scope(uid)[:3], "items", f"d{i}", json.dumps(data), moment, moment,
               secrets.token_hex(16))  # fmt: skip


def _create_database():
    import psycopg

    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DATABASE}")


def _drop_database():
    import psycopg

    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")


def _report(args, results, small):
    total = args.users * DOCS_PER_USER
    print(f"\nctx.store vs raw prepared psycopg at {total:,} documents over {args.users:,} "
          f"users; median of {args.samples} calls each\n")  # fmt: skip
    print("| operation | ctx.store µs | raw SQL µs | ratio | gate |")
    print("|---|---:|---:|---:|---|")
    for name, (store_us, raw_us) in results.items():
        ratio, gate = store_us / raw_us, GATES.get(name)
        verdict = f"≤ {gate}× {'pass' if ratio <= gate else 'FAIL'}" if gate else ""
        print(f"| {name} | {store_us:.0f} | {raw_us:.0f} | {ratio:.2f}× | {verdict} |")
    large = results["query"]
    growth = large[0] / small[0]
    print("\n| query at | ctx.store µs | raw SQL µs |\n|---|---:|---:|")
    print(
        f"| {SMALL_USERS * DOCS_PER_USER:,} documents | {small[0]:.0f} | {small[1]:.0f} |"
    )
    print(f"| {total:,} documents | {large[0]:.0f} | {large[1]:.0f} |")
    verdict = "pass" if growth <= 1.3 else "FAIL"
    print(f"\nctx.store query at {total:,} / at {SMALL_USERS * DOCS_PER_USER:,}: "
          f"{growth:.2f}× (gate ≤ 1.3× {verdict})")  # fmt: skip


def _arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=10_000, help="100 documents each")
    parser.add_argument("--samples", type=int, default=3_000, help="timed calls per op")
    parser.add_argument(
        "--keep", action="store_true", help="keep the database afterwards"
    )
    return parser.parse_args()


if __name__ == "__main__":
    main()
