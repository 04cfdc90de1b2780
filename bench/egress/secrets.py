"""Benchmark ctx.secrets.get beside ctx.store.get, through the real async ctx, in one run.

Creates a throwaway database (PostgreSQL: DATABASE_URL's, else imperal_bench_secrets
on BENCH_PG; ``--embedded``: a SQLite file in a scratch directory), migrates it,
stores one document and one sealed secret for each of ``--users`` users, then times
``ctx.store.get`` and ``ctx.secrets.get`` of a random user alternately, so both
share the machine's noise. ctx.secrets is timed twice: with reads audited once per
IMPERAL_SECRETS_READ_AUDIT_INTERVAL (the default, 60 s) and with every read audited
(interval 0). Prints medians and p90 in µs and the ratios to ctx.store.get as JSON;
the database is dropped at the end.

    .venv/bin/python bench/egress/secrets.py [--users 200] [--samples 3000] [--embedded]
"""

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
_URL = os.environ.get("DATABASE_URL", "")
if _URL.startswith(("postgres://", "postgresql://")):
    SERVER, DATABASE = _URL.rsplit("/", 1)
else:
    SERVER = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
    DATABASE = "imperal_bench_secrets"
WARM_UP = 200
APP = "bench-secrets"
TOKEN = "sk-bench-" + "x" * 40  # a typical API token's size


def main():
    args = _arguments()
    scratch = tempfile.mkdtemp(prefix="imperal-bench-secrets-")
    os.environ["IMPERAL_VAR_DIR"] = scratch
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imperal_platform.settings")
    if args.embedded:
        for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"):
            os.environ.pop(name, None)
    else:
        _psql(
            f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)',
            f'CREATE DATABASE "{DATABASE}"',
        )
        os.environ["DATABASE_URL"] = f"{SERVER}/{DATABASE}"
    # Run as a script, this directory leads sys.path, and this file's name would
    # hide the standard library's secrets module from everything imported next.
    sys.path[:] = [str(ROOT)] + [
        p for p in sys.path if Path(p or ".").resolve() != HERE
    ]
    import django

    django.setup()
    try:
        results = asyncio.run(_run(args))
    finally:
        _clean_up(args.embedded)
    print(json.dumps(results, indent=2))


async def _run(args):
    from asgiref.sync import sync_to_async
    from django.conf import settings
    from django.core.management import call_command

    await sync_to_async(call_command)("migrate", verbosity=0)
    contexts = await sync_to_async(_load)(args.users)
    timings = {
        "store.get": [],
        "secrets.get": [],
        "secrets.get, every read audited": [],
    }
    for index in range(args.samples + WARM_UP):
        ctx = random.choice(contexts)
        ops = list(timings)
        random.shuffle(ops)
        for name in ops:
            settings.IMPERAL_SECRETS_READ_AUDIT_INTERVAL = 0 if "every" in name else 60
            started = time.perf_counter()
            if name == "store.get":
                assert (await ctx.store.get("notes", "n1")) is not None
            else:
                assert await ctx.secrets.get("api_token") == TOKEN
            if index >= WARM_UP:
                timings[name].append(time.perf_counter() - started)
    return _summary(args, timings)


def _load(users):
    """Store a document and seal a secret for each user; return their contexts."""
    from apps.accounts.identity import PlatformUserContext
    from apps.accounts.partition import Partition
    from apps.extensions.context import build_context
    from apps.secrets.core import Actor, Vault
    from apps.secrets.models import SecretAccess
    from apps.store.connections import DjangoConnection
    from apps.store.core import DocumentStore

    ext = _extension()
    store, vault, contexts = DocumentStore(DjangoConnection()), Vault(), []
    for n in range(users):
        uid = f"u{n:05d}"
        partition = Partition("default", APP, uid)
        store.create(partition, "user", "notes", {"doc_id": "n1", "title": "a note"})
        actor = Actor(SecretAccess.Actor.USER, uid)
        vault.set(partition, ext.secrets["api_token"], TOKEN, actor)
        user = PlatformUserContext(
            imperal_id=uid, email="", tenant_id="default", role="user"
        )
        contexts.append(build_context(ext, user))
    return contexts


def _extension():
    from imperal_sdk import Extension

    ext = Extension(APP, description="ctx.secrets benchmark")
    ext.secret("api_token", "The upstream's API token.")
    return ext


def _summary(args, timings):
    def micro(samples, q):
        return round(statistics.quantiles(samples, n=100)[q - 1] * 1e6, 1)

    base = timings["store.get"]
    rows = {}
    for name, samples in timings.items():
        rows[name] = {
            "p50_us": micro(samples, 50),
            "p90_us": micro(samples, 90),
            "p50_ratio_to_store_get": round(
                statistics.median(samples) / statistics.median(base), 2
            ),
        }
    return {
        "database": "sqlite (embedded)" if args.embedded else "postgresql",
        "users": args.users,
        "samples_each": args.samples,
        "results": rows,
    }


def _clean_up(embedded):
    from django.db import connections

    from apps.db.core import close_pools, get_backend
    from apps.store import pool

    pool.close_all()
    get_backend().deprovision_all()
    close_pools()
    connections.close_all()
    if not embedded:
        _psql(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')


def _psql(*statements):
    import psycopg

    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def _arguments():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--samples", type=int, default=3000)
    parser.add_argument("--embedded", action="store_true", help="SQLite, no servers")
    return parser.parse_args()


if __name__ == "__main__":
    main()
