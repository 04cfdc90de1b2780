"""Benchmark the seed's daily digest fanned out over N users (default 10,000).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/fanout/run.py [--users 10000] [--rounds 3]

Creates (and afterwards drops) its own database ``imperal_bench_fanout`` on the
server of DATABASE_URL, migrates it, gives every user one document in my-app's
``contacts`` collection, then fires my-app's ``daily_digest`` through the
platform's own path (``fire_schedule``: claim, system context, ``list_users``,
one scoped context, query and notification per user, ScheduleRun). The baseline,
in the same run, is the same work in raw psycopg with prepared statements: page
through the user ids, read each user's contacts, insert one notification row.
Each measurement runs in a fresh child process (so its peak RSS is its own);
platform and raw alternate, and notifications are emptied between runs.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCH_DB = "imperal_bench_fanout"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--phase", choices=["platform", "raw"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(_run_phase(args.phase, args.users)))
        return 0
    return _orchestrate(args)


def _orchestrate(args):
    server_url = os.environ.get("DATABASE_URL", "")
    if not server_url.startswith(("postgres://", "postgresql://")):
        sys.exit(
            "bench/fanout needs DATABASE_URL=postgres://… (a server to create its DB on)"
        )
    bench_url = server_url.rsplit("/", 1)[0] + "/" + BENCH_DB
    _recreate_database(server_url)
    env = {
        **os.environ,
        "DATABASE_URL": bench_url,
        "IMPERAL_VAR_DIR": tempfile.mkdtemp(prefix="bench-fanout-"),
        "DJANGO_SETTINGS_MODULE": "imperal_platform.settings",
    }
    os.environ.update(env)
    try:
        _seed(args.users)
        results = {"platform": [], "raw": []}
        for _ in range(args.rounds):
            for phase in ("platform", "raw"):
                _empty_notifications()
                results[phase].append(_child(phase, args.users, env))
        _report(results, args)
    finally:
        _drop_database(server_url)
    return 0


def _child(phase, users, env):
    done = subprocess.run(
        [sys.executable, __file__, "--phase", phase, "--users", str(users)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"{phase} run failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _django():
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def _seed(users):
    _django()
    from django.core.management import call_command
    from django.db import transaction

    from apps.accounts.partition import Partition
    from apps.store.connections import DjangoConnection
    from apps.store.core import DocumentStore

    call_command("migrate", verbosity=0)
    store = DocumentStore(DjangoConnection())
    started = time.perf_counter()
    with transaction.atomic():
        for n in range(users):
            partition = Partition("default", "my-app", f"user{n:06d}")
            store.create(
                partition,
                "user",
                "contacts",
                {"email": f"c{n}@example.com", "name": f"Contact {n}"},
            )
    print(
        f"seeded {users} users x 1 contact in {time.perf_counter() - started:.1f} s",
        file=sys.stderr,
    )


def _empty_notifications():
    from apps.notifications.models import Notification

    Notification.objects.all().delete()


def _run_phase(phase, users):
    _django()
    from apps.notifications.models import Notification

    started = time.perf_counter()
    fanned_out = _platform() if phase == "platform" else _raw()
    seconds = time.perf_counter() - started
    delivered = Notification.objects.count()
    if fanned_out != users or delivered != users:
        raise SystemExit(
            f"{phase}: fanned out {fanned_out}, notified {delivered}, expected {users}"
        )
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"seconds": seconds, "users": fanned_out, "peak_rss_mb": peak_kb / 1024}


def _platform():
    from apps.scheduler.fire import fire_schedule, manual_slot

    run = fire_schedule("my-app", "daily_digest", slot=manual_slot(), trigger="manual")
    if run.status != "success":
        raise SystemExit(f"platform fire {run.status}: {run.error}")
    return run.users_fanned_out


def _raw():
    import psycopg
    from django.db import connection

    from apps.notifications.models import Notification
    from apps.store.models import Document

    docs, notes = Document._meta.db_table, Notification._meta.db_table
    list_users = (
        f"SELECT DISTINCT user_id FROM {docs} WHERE tenant_id = %s AND app_id = %s"
        f" AND collection = %s AND user_id > %s AND user_id <> '__system__'"
        f" ORDER BY user_id LIMIT 500"
    )
    query = (
        f"SELECT doc_id, data, created_at, updated_at, etag FROM {docs}"
        f" WHERE tenant_id = %s AND app_id = %s AND user_id = %s AND collection = %s"
        f" ORDER BY created_at, doc_id LIMIT 100"
    )
    insert = (
        f"INSERT INTO {notes} (tenant_id, app_id, user_id, message, channel,"
        f" priority, subject, body, extra, status, error, created_at)"
        f" VALUES (%s, %s, %s, %s, 'in_app', 'normal', '', '', '{{}}', 'delivered',"
        f" '', now())"
    )
    params = {**connection.get_connection_params(), "prepare_threshold": 0}
    params.pop("cursor_factory", None)
    fanned_out, after = 0, ""
    with psycopg.connect(**params, autocommit=True) as conn:
        while True:
            uids = [
                r[0]
                for r in conn.execute(
                    list_users, ("default", "my-app", "contacts", after)
                )
            ]
            if not uids:
                return fanned_out
            for uid in uids:
                rows = conn.execute(
                    query, ("default", "my-app", uid, "contacts")
                ).fetchall()
                if rows:
                    conn.execute(
                        insert,
                        ("default", "my-app", uid, f"You have {len(rows)} contacts."),
                    )
                fanned_out += 1
            after = uids[-1]


def _report(results, args):
    def med(phase, key):
        return statistics.median(r[key] for r in results[phase])

    platform_s, raw_s = med("platform", "seconds"), med("raw", "seconds")
    print(
        f"\nbench/fanout: my-app daily_digest over {args.users} users "
        f"(1 contact each), median of {args.rounds} runs each\n"
    )
    print("| path | seconds | users/s | peak RSS MB |")
    print("|---|---:|---:|---:|")
    for phase, label in (
        ("platform", "platform: fire_schedule"),
        ("raw", "raw psycopg, prepared"),
    ):
        seconds = med(phase, "seconds")
        print(
            f"| {label} | {seconds:.2f} | {args.users / seconds:,.0f} "
            f"| {med(phase, 'peak_rss_mb'):.0f} |"
        )
    print(
        f"\nplatform / raw time: {platform_s / raw_s:.2f}x  "
        f"(runs: platform {[round(r['seconds'], 2) for r in results['platform']]}, "
        f"raw {[round(r['seconds'], 2) for r in results['raw']]})"
    )


def _recreate_database(server_url):
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{BENCH_DB}"')


def _drop_database(server_url):
    import psycopg
    from django.db import connections

    from apps.db.core import close_pools, get_backend

    get_backend().deprovision_all()  # ctx.db roles are server-wide
    close_pools()
    connections.close_all()
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')


if __name__ == "__main__":
    sys.exit(main())
