"""Benchmark the console's partition browser and document pages on PostgreSQL:
10,000 users, 1,000,000 documents, plus one user holding a 50,000-document
collection and a 3 MB document.

Creates a throwaway database (DATABASE_URL's, else imperal_bench_console), lets
the migrations build the schema, loads 100 documents per user in one
generate_series INSERT (the statistics triggers off, then one rebuild, as a bulk
load would do), writes cache entries for the first users, and times each page
through Django's full request path (middleware, admin login, templates) in this
process. Pages are requested round-robin so they share the machine's noise;
the baseline is the admin's own password-change page, a staff page that reads
nothing. Then the write cost the triggers add: ``ctx.store`` creates through the
core with the triggers on and off, alternated in blocks. The database and the
ctx.db roles migrating it provisioned are dropped at the end.

    .venv/bin/python bench/console/run.py [--users 10000] [--samples 30]

Gate: the median of the first page and of a page deep into the user list
(each sort) and into the large collection's documents under 100 ms; exit status
1 otherwise.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_URL = os.environ.get("DATABASE_URL", "")
if _URL.startswith(("postgres://", "postgresql://")):
    SERVER, DATABASE = _URL.rsplit("/", 1)
else:
    SERVER = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
    DATABASE = "imperal_bench_console"
APP = "my-app"
DOCS_PER_USER = 100
CACHED_USERS = 1000
WARM_UP = 5
GATE_MS = 100.0
BIG_USER, BIG_COLLECTION, BIG_DOCS = "big", "items", 50_000
HUGE_BYTES = 3 * 1024 * 1024
GATED = ("users: first page", "users: deep page", "users: deep, -documents",
         "users: deep, -last_write", "documents: first page",
         "documents: deep page")  # fmt: skip
LOAD = """
INSERT INTO store_document (tenant_id, app_id, user_id, collection, doc_id, data,
    created_at, updated_at, etag)
SELECT 'default', %(app)s, 'u' || lpad((n / %(per)s)::text, 5, '0'),
    (ARRAY['items', 'items', 'items', 'notes', 'tags'])[1 + n %% 5],
    'd' || n,
    jsonb_build_object('n', n, 'status',
        (ARRAY['active', 'idle', 'done'])[1 + n %% 3], 'title', 'document ' || n),
    now() - make_interval(secs => (n::bigint * 7919) %% 2592000),
    now() - make_interval(secs => (n::bigint * 104729) %% 2592000),
    md5(n::text)
FROM generate_series(0, %(total)s - 1) AS n
"""
# One user's single large collection: the documents list's deep pages.
LOAD_BIG = """
INSERT INTO store_document (tenant_id, app_id, user_id, collection, doc_id, data,
    created_at, updated_at, etag)
SELECT 'default', %(app)s, %(user)s, %(collection)s, 'b' || lpad(n::text, 6, '0'),
    jsonb_build_object('n', n, 'status',
        (ARRAY['active', 'idle', 'done'])[1 + n %% 3], 'title', 'document ' || n),
    now() - make_interval(secs => (n::bigint * 7919) %% 2592000),
    now() - make_interval(secs => (n::bigint * 104729) %% 2592000),
    md5(n::text)
FROM generate_series(0, %(total)s - 1) AS n
"""


def main():
    args = _arguments()
    _create_database()
    os.environ["DATABASE_URL"] = f"{SERVER}/{DATABASE}"
    os.environ.setdefault("IMPERAL_VAR_DIR", "/tmp/imperal-bench-console")
    os.environ.setdefault("IMPERAL_CACHE_PREFIX", "bench-console")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imperal_platform.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    try:
        failed = _run(args)
    finally:
        _clean_up(args.keep)
    sys.exit(1 if failed else 0)


def _run(args):
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    load_seconds, rebuild_seconds = _load(args.users)
    _huge_document()
    cache_keys = _cache_entries(min(args.cache_users, args.users))
    client = _operator_client()
    pages = _pages(args.users)
    print(f"load average before timing {_load_average()}", flush=True)
    timings, sizes = _time_pages(client, pages, args.samples)
    writes = _write_cost(args.write_blocks)
    _report(args, timings, sizes, writes, (load_seconds, rebuild_seconds, cache_keys))
    return [name for name in GATED if statistics.median(timings[name]) >= GATE_MS]


def _load(users):
    """Load ``users`` × DOCS_PER_USER documents; return (load s, stats rebuild s)."""
    from django.db import connection

    from apps.store import stats

    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE store_document DISABLE TRIGGER USER")
        started = time.perf_counter()
        params = {"app": APP, "per": DOCS_PER_USER, "total": users * DOCS_PER_USER}
        cursor.execute(LOAD, params)
        big = {"app": APP, "user": BIG_USER, "collection": BIG_COLLECTION}
        cursor.execute(LOAD_BIG, {**big, "total": BIG_DOCS})
        loaded = time.perf_counter() - started
        cursor.execute("ALTER TABLE store_document ENABLE TRIGGER USER")
        started = time.perf_counter()
        stats.rebuild(cursor)
        rebuilt = time.perf_counter() - started
        cursor.execute("VACUUM ANALYZE store_document")
        cursor.execute("VACUUM ANALYZE store_partition_stats")
        cursor.execute("VACUUM ANALYZE store_collection_stats")
    return loaded, rebuilt


def _huge_document():
    """Write one 3 MB document through the core (the console's large-value case)."""
    from apps.accounts.partition import Partition
    from apps.store.connections import DjangoConnection
    from apps.store.core import DocumentStore

    body = "lorem ipsum " * (HUGE_BYTES // 12)
    part = Partition("default", APP, "u00042")
    DocumentStore(DjangoConnection()).create(
        part, "user", "items", {"body": body}, doc_id="huge"
    )


def _cache_entries(users):
    """Write two cache entries for each of the first ``users``; return the count."""
    from apps.accounts.partition import Partition
    from apps.cache.core import get_core
    from apps.extensions.registry import get_registry

    ext = get_registry().get(APP).ext
    model = ext._cache_models["inbox_view"]
    core = get_core()
    for index in range(users):
        partition = Partition("default", APP, f"u{index:05d}")
        for key in ("inbox", "unread"):
            core.set(partition, ext, key, model(messages=[]), ttl_seconds=300)
    return 2 * users


def _operator_client():
    from django.test import Client

    from apps.accounts.models import User

    user = User.objects.create(
        username="bench-operator", imperal_id="bench-operator", is_staff=True,
        is_superuser=True,
    )  # fmt: skip
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    return client


def _pages(users):
    """Return {name: url} of the pages timed, deep cursors found through the core."""
    base = f"/admin/console/partitions/{APP}/"
    pages = {
        "baseline: admin password page": "/admin/password_change/",
        "users: first page": base,
        "users: search": base + "?q=u0999",
    }
    deep = users * 9 // 10
    for sort, name in (("user", "users: deep page"),
                       ("-documents", "users: deep, -documents"),
                       ("-last_write", "users: deep, -last_write")):  # fmt: skip
        pages[name] = base + f"?sort={sort}&cursor={_cursor_at(sort, deep)}"
    back = _cursor_at(sort="user", position=deep + 50, before=True)
    pages["users: previous from deep"] = base + f"?sort=user&before={back}"
    pages["partition page"] = base + "u00042/"
    pages["documents: small, where + count"] = (
        base + 'u00042/c/items/?where={"status":"done"}'
    )
    pages.update(_document_pages(base))
    return pages


def _document_pages(base):
    """Return the pages of the large collection and of single documents."""
    from urllib.parse import quote

    big = base + f"{BIG_USER}/c/{BIG_COLLECTION}/"
    deep = _document_cursors(BIG_DOCS * 9 // 10)
    return {
        "documents: first page": big,
        "documents: deep page": big + f"?cursor={quote(deep.after)}",
        "documents: previous from deep": big + f"?before={quote(deep.before)}",
        "documents: deep, by id": big + f"?order_by=id&cursor={_by_id_cursor()}",
        "documents: filter row": big + "?field=status&op=%3D&value=done",
        "document": base + "u00042/c/items/d4200/",
        "document: editor": base + "u00042/c/items/d4200/?edit=1",
        "document: 3 MB, preview": base + "u00042/c/items/huge/",
        "document: 3 MB, show all": base + "u00042/c/items/huge/?full=1",
    }


def _document_cursors(position):
    """Return the BrowsePage of the large collection (default order) after
    ``position`` documents: its ``after`` and ``before`` cursors."""
    from apps.accounts.partition import Partition
    from apps.store.partitions import Partitions

    part, reader = Partition("default", APP, BIG_USER), Partitions()
    page = reader.browse_both_ways(part, BIG_COLLECTION, None, "-updated_at", limit=25)
    cursor, seen = page.after, 25
    while seen < position:
        limit = min(1000, position - seen)
        page = reader.browse_both_ways(
            part, BIG_COLLECTION, None, "-updated_at", limit=limit, after=cursor
        )
        cursor, seen = page.after, seen + len(page.data)
    return reader.browse_both_ways(
        part, BIG_COLLECTION, None, "-updated_at", limit=25, after=cursor
    )


def _by_id_cursor():
    from urllib.parse import quote

    from apps.accounts.partition import Partition
    from apps.store.connections import DjangoConnection
    from apps.store.core import DocumentStore
    from apps.store.cursors import after_document
    from apps.store.query import parse_order_by

    part = Partition("default", APP, BIG_USER)
    doc_id = f"b{BIG_DOCS * 9 // 10:06d}"
    document = DocumentStore(DjangoConnection()).get(part, BIG_COLLECTION, doc_id)
    return quote(after_document(BIG_COLLECTION, None, parse_order_by("id"), document))


def _cursor_at(sort, position, before=False):
    """Return the cursor of the users page starting at ``position`` in ``sort``
    (``before``: the cursor paging back from there)."""
    from urllib.parse import quote

    from apps.store.stats import Statistics

    reader, cursor, seen = Statistics(), None, 0
    while seen < position:
        limit = min(200, position - seen)
        page = reader.users("default", APP, sort=sort, cursor=cursor, limit=limit)
        seen, cursor = seen + len(page.data), page.cursor
    if before:
        return quote(reader.users("default", APP, sort=sort, cursor=cursor).previous)
    return quote(cursor)


def _time_pages(client, pages, samples):
    """Return ({name: [ms]}, {name: KB}): each page requested ``samples`` times,
    round-robin, and the size of its HTML."""
    timings, sizes = {name: [] for name in pages}, {}
    for index in range(samples + WARM_UP):
        for name, url in pages.items():
            started = time.perf_counter()
            response = client.get(url)
            elapsed = (time.perf_counter() - started) * 1000
            assert response.status_code == 200, (name, response.status_code)
            sizes[name] = len(response.content) / 1024
            if index >= WARM_UP:
                timings[name].append(elapsed)
    return timings, sizes


def _write_cost(blocks, per_block=200):
    """Return (µs per create with triggers, µs without): core creates into one
    10-collection partition, alternating blocks of ``per_block`` on and off."""
    from django.db import connection

    from apps.accounts.partition import Partition
    from apps.store.connections import DjangoConnection
    from apps.store.core import DocumentStore

    store = DocumentStore(DjangoConnection())
    partition = Partition("default", APP, "writer")
    runs = {True: [], False: []}
    for block in range(2 * blocks):
        on = block % 2 == 0
        with connection.cursor() as cursor:
            verb = "ENABLE" if on else "DISABLE"
            cursor.execute(f"ALTER TABLE store_document {verb} TRIGGER USER")
        for n in range(per_block):
            started = time.perf_counter()
            store.create(partition, "user", f"c{n % 10}", {"n": n})
            runs[on].append((time.perf_counter() - started) * 1e6)
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE store_document ENABLE TRIGGER USER")
    return statistics.median(runs[True]), statistics.median(runs[False])


def _report(args, timings, sizes, writes, loaded):
    from django.conf import settings

    load_seconds, rebuild_seconds, cache_keys = loaded
    baseline = statistics.median(timings["baseline: admin password page"])
    cache = "redis" if settings.REDIS_URL else "embedded"
    print(
        f"{args.users:,} users, {args.users * DOCS_PER_USER + BIG_DOCS:,} documents "
        f"({BIG_DOCS:,} in {BIG_USER}'s {BIG_COLLECTION}, one of 3 MB); "
        f"loaded in {load_seconds:.1f} s, statistics rebuilt in "
        f"{rebuild_seconds:.1f} s; {cache_keys:,} cache entries ({cache})"
    )
    print(f"load average {_load_average()}")
    print(f"{'page':34} {'median ms':>10} {'p95 ms':>8} {'× baseline':>11} {'KB':>8}")
    for name, values in timings.items():
        median = statistics.median(values)
        p95 = sorted(values)[int(0.95 * (len(values) - 1))]
        gate = "" if name not in GATED else (
            "  ok" if median < GATE_MS else f"  OVER {GATE_MS:.0f} ms"
        )  # fmt: skip
        ratio = median / baseline
        print(
            f"{name:34} {median:10.1f} {p95:8.1f} {ratio:11.1f} {sizes[name]:8.0f}{gate}"
        )
    on, off = writes
    print(
        f"ctx.store create through the core: {on:.0f} µs with the statistics "
        f"triggers, {off:.0f} µs without ({on / off:.2f}×)"
    )


def _load_average():
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


def _arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument(
        "--cache-users",
        type=int,
        default=CACHED_USERS,
        help="users given two cache entries each (the Redis count walks them all)",
    )
    parser.add_argument("--write-blocks", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the database")
    return parser.parse_args()


def _create_database():
    import psycopg

    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DATABASE}"')


def _drop_database():
    import psycopg

    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')


def _clean_up(keep):
    """Close every connection; unless ``keep``, drop the database and the ctx.db
    roles migrating it provisioned (roles are cluster-wide)."""
    from django.db import connections

    from apps.cache.core import get_core
    from apps.db.core import close_pools, get_backend

    core = get_core()
    if core is not None:
        keys = [e.key for e in core.backend.list(core.key_prefix + ":", 100_000)]
        if keys:
            core.backend.delete(keys)
    if not keep:
        get_backend().deprovision_all()
    close_pools()
    connections.close_all()
    if not keep:
        _drop_database()


if __name__ == "__main__":
    main()
