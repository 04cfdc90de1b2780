"""Median SELECT-by-primary-key latency through ctx.db beside raw psycopg.

Run from the repository root against PostgreSQL:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/DB python bench/db/select_by_pk.py

Both sides log in as the same extension role, run the same statement on the
same table, on one event loop, in interleaved rounds (the machine is noisy).
Exit status 1 when ctx.db's per-call median exceeds GATE x raw psycopg's.
One more row (not gated) prices the session reset: the same SELECT with a
trailing comment, which ctx.db cannot tell from SQL that changes session
state, so each call resets its connection before the next may use it.
"""

import asyncio
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imperal_platform.settings")

import django  # noqa: E402

django.setup()

import psycopg  # noqa: E402
from django.conf import settings  # noqa: E402

from apps.db.core import close_pools, get_backend  # noqa: E402
from apps.db.face import DbFace  # noqa: E402

APP_ID = "bench-db"
ROWS = 1000
ROUNDS = 7
PER_ROUND = 300
GATE = 2.0
QUERY = "SELECT id, name FROM items WHERE id = :id"
RAW_QUERY = "SELECT id, name FROM items WHERE id = %s"
RESET_QUERY = QUERY + " -- not provably free of session effects"


async def setup(face):
    async with face.session() as s:
        await s.execute("DROP TABLE IF EXISTS items")
        await s.execute(
            "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)"
        )
        await s.execute(
            "INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, :n) g",
            {"n": ROWS},
        )


async def ctx_db_acquire(face, key):
    async with face.acquire() as conn:
        return (await conn.execute(QUERY, {"id": key})).first()


async def ctx_db_acquire_reset(face, key):
    async with face.acquire() as conn:
        return (await conn.execute(RESET_QUERY, {"id": key})).first()


async def ctx_db_session(face, key):
    async with face.session() as session:
        return (await session.execute(QUERY, {"id": key})).first()


def ctx_db_held(conn):
    async def call(face, key):
        return (await conn.execute(QUERY, {"id": key})).first()

    return call


def raw(conn):
    async def call(face, key):
        cursor = await conn.execute(RAW_QUERY, (key,))
        return await cursor.fetchone()

    return call


def raw_transaction(conn):
    async def call(face, key):
        async with conn.transaction():
            cursor = await conn.execute(RAW_QUERY, (key,))
            return await cursor.fetchone()

    return call


async def timed(call, face, samples):
    for _ in range(PER_ROUND):
        key = random.randint(1, ROWS)
        started = time.perf_counter()
        row = await call(face, key)
        samples.append(time.perf_counter() - started)
        assert row is not None


async def measure():
    face = DbFace(APP_ID)
    await setup(face)
    conninfo = get_backend().extension_conninfo(APP_ID)
    raw_conn = await psycopg.AsyncConnection.connect(conninfo, autocommit=True)
    samples = {}
    async with face.acquire() as held:
        variants = {
            "ctx.db acquire() + execute, per call": ctx_db_acquire,
            "ctx.db session() + execute, per call": ctx_db_session,
            "ctx.db execute on a held acquire()": ctx_db_held(held),
            "ctx.db acquire() + execute + session reset, per call": (
                ctx_db_acquire_reset
            ),
            "raw psycopg AsyncConnection, autocommit": raw(raw_conn),
            "raw psycopg AsyncConnection, transaction": raw_transaction(raw_conn),
        }
        for call in variants.values():  # warm up: pools, prepared statements
            await timed(call, face, [])
        for _ in range(ROUNDS):
            for name, call in variants.items():
                await timed(call, face, samples.setdefault(name, []))
    await raw_conn.close()
    return {name: statistics.median(values) * 1e6 for name, values in samples.items()}


def report(medians):
    base = medians["raw psycopg AsyncConnection, autocommit"]
    base_tx = medians["raw psycopg AsyncConnection, transaction"]
    print(
        f"| variant ({ROUNDS * PER_ROUND} calls each) | median µs | × raw autocommit |"
    )
    print("|---|---:|---:|")
    for name, value in medians.items():
        print(f"| {name} | {value:.0f} | {value / base:.2f} |")
    gate = medians["ctx.db acquire() + execute, per call"] / base
    session = medians["ctx.db session() + execute, per call"] / base_tx
    print(f"\ngate: ctx.db acquire() per call / raw autocommit = {gate:.2f} (≤ {GATE})")
    print(f"      ctx.db session() per call / raw transaction = {session:.2f}")
    return gate <= GATE and session <= GATE


def main():
    if not settings.IS_POSTGRES:
        sys.exit("bench/db needs DATABASE_URL=postgres://...")
    try:
        ok = report(asyncio.run(measure()))
    finally:
        get_backend().deprovision(APP_ID)
        close_pools()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
