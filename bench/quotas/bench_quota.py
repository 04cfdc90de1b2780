"""What a quota check adds to ctx.store.create: create under a store quota beside
create without one, in one run, on the same database.

Two extensions write the same documents through the real async ``ctx.store``
(a ``build_context`` context): ``bench-free`` has no quota, ``bench-quota`` has
``store.documents`` and ``store.bytes`` limits high enough never to refuse, so
every one of its creates runs the check (PostgreSQL: the limit set in the
statement, checked by the statistics trigger; SQLite: the partition's row read
before and after in the write's transaction). The two alternate over random
users, medians after a warm-up. Gate: quota / free ≤ 1.1.

PostgreSQL (a throwaway database, dropped at the end):
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/imperal_bench_quota \\
        .venv/bin/python bench/quotas/bench_quota.py [--samples 3000]
SQLite (the embedded default, under a fresh IMPERAL_VAR_DIR):
    env -u DATABASE_URL IMPERAL_VAR_DIR=$(mktemp -d) \\
        .venv/bin/python bench/quotas/bench_quota.py
"""

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
URL = os.environ.get("DATABASE_URL", "")
ON_POSTGRES = URL.startswith(("postgres://", "postgresql://"))
USERS = 500
WARM_UP = 200
GATE = 1.1
FREE, QUOTA = "bench-free", "bench-quota"
DATA = {"title": "new", "status": "idle", "n": 1}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=3000)
    args = parser.parse_args()
    if ON_POSTGRES:
        _database("DROP DATABASE IF EXISTS", "CREATE DATABASE")
    os.environ.setdefault("IMPERAL_VAR_DIR", "/tmp/imperal-bench-quota")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imperal_platform.settings")
    os.environ["IMPERAL_QUOTAS"] = json.dumps(
        {QUOTA: {"store.documents": 100_000_000, "store.bytes": 100_000_000_000}}
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    try:
        ratio = asyncio.run(_run(args.samples))
    finally:
        _clean_up()
    sys.exit(0 if ratio <= GATE else 1)


async def _run(samples):
    from asgiref.sync import sync_to_async
    from django.core.management import call_command

    from apps.accounts.partition import Partition
    from apps.quotas import limits

    await sync_to_async(call_command)("migrate", verbosity=0)
    assert limits.configured().entries((QUOTA, "")), "IMPERAL_QUOTAS not read"
    quota_limits = await sync_to_async(limits.limits_of)(
        Partition("default", QUOTA, "u0")
    )
    assert quota_limits["store.documents"] == 100000000, quota_limits
    stores = {
        app: [_context(app, f"u{n}").store for n in range(USERS)]
        for app in (FREE, QUOTA)
    }
    timings = {FREE: [], QUOTA: []}
    for index in range(samples + WARM_UP):
        user = random.randrange(USERS)
        order = (FREE, QUOTA) if index % 2 else (QUOTA, FREE)
        for app in order:
            started = time.perf_counter()
            await stores[app][user].create("items", DATA)
            if index >= WARM_UP:
                timings[app].append(time.perf_counter() - started)
    free, quota = (statistics.median(timings[app]) * 1e6 for app in (FREE, QUOTA))
    ratio = quota / free
    from django.conf import settings
    from django.db import connections

    await sync_to_async(connections.close_all)()

    engine = "postgresql" if settings.IS_POSTGRES else "sqlite"
    print(f"database: {engine}; {samples} creates each after {WARM_UP} warm-up")
    print("| variant | median µs | × without quota |")
    print("|---|---:|---:|")
    print(f"| ctx.store.create, no quota | {free:.0f} | 1.00 |")
    print(f"| ctx.store.create under a quota | {quota:.0f} | {ratio:.2f} |")
    print(f"gate quota/free <= {GATE}: {'pass' if ratio <= GATE else 'FAIL'}")
    return ratio


_EXTENSIONS = {}


def _context(app_id, uid):
    from imperal_sdk import Extension

    from apps.accounts.identity import PlatformUserContext
    from apps.extensions.context import build_context

    if app_id not in _EXTENSIONS:
        _EXTENSIONS[app_id] = Extension(app_id, description="quota benchmark")
    user = PlatformUserContext(
        imperal_id=uid, email="", tenant_id="default", role="user"
    )
    return build_context(_EXTENSIONS[app_id], user)


def _clean_up():
    from django.db import connections

    from apps.db.core import close_pools, get_backend
    from apps.store import pool

    pool.close_all()
    if ON_POSTGRES:
        get_backend().deprovision_all()
    close_pools()
    connections.close_all()
    if ON_POSTGRES:
        _database("DROP DATABASE IF EXISTS", suffix=" WITH (FORCE)")


def _database(*statements, suffix=""):
    import psycopg

    server, name = URL.rsplit("/", 1)
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        for statement in statements:
            conn.execute(f'{statement} "{name}"{suffix}')


if __name__ == "__main__":
    main()
