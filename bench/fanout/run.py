"""Benchmark the seed's daily digest fanned out over N users, sharded or not.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/fanout/run.py [--users 10000,100000] [--rounds 1]

For each user count: creates (and afterwards drops) its own database
``imperal_bench_fanout`` on the server of DATABASE_URL, migrates it and seeds,
in SQL (generate_series), one document per user in my-app's ``contacts``
collection. Then, in the same run, alternating, each in a fresh child process
(so its peak RSS is its own):

- ``raw``: the baseline, raw psycopg with prepared statements, sequential:
  page through the user ids, read each user's contacts, insert one
  notification row (two round trips per user);
- ``raw, batched``: the same loop, its notification rows inserted 200 to a
  statement (as the platform stores them): one round trip per user;
- ``1 shard``: ``fire_schedule`` of my-app's ``daily_digest`` (claim, system
  context, ``list_users``, one scoped context, query and notification per
  user, delivery records, ScheduleRun);
- ``8 shards, 1 worker``: the same schedule with ``shards = 8``, the shards
  run concurrently on one process's event loop (what one Celery message of
  8 shards runs);
- ``8 shards, 2 workers``: the slot claimed, then two worker processes each
  run 4 shards on their event loop (``run_shards``, the Celery task's body);
  time runs from the first worker's start of work to the last one's end,
  peak RSS is the larger worker's.

Every run must notify every user exactly once (checked). Notifications and
delivery rows are emptied between runs.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCH_DB = "imperal_bench_fanout"
PHASES = ("raw", "rawbatch", "shards1", "shards8", "shards8x2")
LABELS = {
    "raw": "raw psycopg, sequential, prepared",
    "rawbatch": "raw psycopg, sequential, inserts batched by 200",
    "shards1": "platform, 1 shard",
    "shards8": "platform, 8 shards, 1 worker",
    "shards8x2": "platform, 8 shards, 2 workers",
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", default="10000")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--phases", default=",".join(PHASES))
    parser.add_argument("--phase", choices=[*PHASES, "worker"], help=argparse.SUPPRESS)
    parser.add_argument("--run-id", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--indices", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase == "worker":
        print(json.dumps(_shard_worker(args.run_id, args.indices)))
        return 0
    if args.phase:
        print(json.dumps(_run_phase(args.phase, int(args.users))))
        return 0
    return _orchestrate(args)


def _orchestrate(args):
    server_url = os.environ.get("DATABASE_URL", "")
    if not server_url.startswith(("postgres://", "postgresql://")):
        sys.exit(
            "bench/fanout needs DATABASE_URL=postgres://… (a server to create its DB on)"
        )
    bench_url = server_url.rsplit("/", 1)[0] + "/" + BENCH_DB
    env = {
        **os.environ,
        "DATABASE_URL": bench_url,
        "IMPERAL_VAR_DIR": tempfile.mkdtemp(prefix="bench-fanout-"),
        "DJANGO_SETTINGS_MODULE": "imperal_platform.settings",
        "IMPERAL_SCHEDULE_TIMEOUT": "7200",  # a million users in one shard
    }
    os.environ.update(env)
    for users in [int(n) for n in args.users.split(",")]:
        _recreate_database(server_url)
        try:
            _seed(users)
            phases = [p for p in args.phases.split(",") if p in PHASES]
            results = {phase: [] for phase in phases}
            for _ in range(args.rounds):
                for phase in phases:
                    _empty_outputs()
                    results[phase].append(_child(phase, users, env))
                    print(f"  {phase}: {results[phase][-1]}", file=sys.stderr)
            _report(results, users, args.rounds)
        finally:
            _drop_database(server_url)
    return 0


def _child(phase, users, env, *extra):
    done = subprocess.run(
        [sys.executable, __file__, "--phase", phase, "--users", str(users), *extra],
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


SEED = """INSERT INTO store_document
    (tenant_id, app_id, user_id, collection, doc_id, data, created_at, updated_at, etag)
SELECT 'default', 'my-app', 'user' || lpad(n::text, 7, '0'), 'contacts', 'c' || n,
    jsonb_build_object('email', 'c' || n || '@example.com', 'name', 'Contact ' || n),
    now(), now(), md5(n::text)
FROM generate_series(1, %s) AS n"""


def _seed(users):
    _django()
    from django.core.management import call_command
    from django.db import connection

    from apps.extensions.sync import sync_extensions

    call_command("migrate", verbosity=0)
    sync_extensions()
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(SEED, [users])
        cursor.execute("ANALYZE store_document")
    print(
        f"seeded {users} users x 1 contact in {time.perf_counter() - started:.1f} s",
        file=sys.stderr,
    )


def _empty_outputs():
    from django.db import connection

    from apps.notifications.models import Notification
    from apps.scheduler.models import Delivery

    with connection.cursor() as cursor:
        for model in (Notification, Delivery):
            cursor.execute(f"TRUNCATE {model._meta.db_table}")


def _run_phase(phase, users):
    _django()
    from apps.notifications.models import Notification

    if phase == "shards8x2":
        measured = _two_workers()
    else:
        started = time.perf_counter()
        if phase.startswith("raw"):
            fanned_out = _raw(batch=200 if phase == "rawbatch" else 1)
        else:
            fanned_out = _fire(int(phase[len("shards") :]))
        measured = {
            "seconds": time.perf_counter() - started,
            "users": fanned_out,
            "peak_rss_mb": _peak_rss_mb(),
        }
    delivered = Notification.objects.count()
    distinct = Notification.objects.values("user_id").distinct().count()
    if not measured["users"] == delivered == distinct == users:
        raise SystemExit(
            f"{phase}: fanned out {measured['users']}, notified {delivered} "
            f"({distinct} users), expected {users} once each"
        )
    return measured


def _fire(shards, dispatch=None):
    from apps.scheduler.fire import fire_schedule, manual_slot
    from apps.scheduler.models import Schedule

    Schedule.objects.filter(app_id="my-app", name="daily_digest").update(shards=shards)
    run = fire_schedule(
        "my-app",
        "daily_digest",
        slot=manual_slot(),
        trigger="manual",
        local=dispatch is None,
        dispatch=dispatch,
    )
    run.refresh_from_db()
    if run.status != "success":
        raise SystemExit(f"platform fire ({shards} shards) {run.status}: {run.error}")
    return run.users_fanned_out


def _two_workers():
    """Claim an 8-shard slot here; run its shards in two worker processes."""
    reports = []

    def dispatch(run_id, indices):
        workers = [
            subprocess.Popen(
                [
                    sys.executable,
                    __file__,
                    "--phase",
                    "worker",
                    "--run-id",
                    str(run_id),
                    "--indices",
                    ",".join(map(str, part)),
                ],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                text=True,
            )
            for part in (indices[: len(indices) // 2], indices[len(indices) // 2 :])
        ]
        for worker in workers:
            out, _ = worker.communicate()
            if worker.returncode != 0:
                raise SystemExit("a shard worker failed")
            reports.append(json.loads(out.strip().splitlines()[-1]))

    users = _fire(8, dispatch=dispatch)
    return {
        "seconds": max(r["end"] for r in reports) - min(r["start"] for r in reports),
        "users": users,
        "peak_rss_mb": max(r["peak_rss_mb"] for r in reports),
    }


def _shard_worker(run_id, indices):
    _django()
    from apps.scheduler.shards import run_shards

    start = time.time()
    statuses = run_shards(run_id, [int(i) for i in indices.split(",")])
    end = time.time()
    if set(statuses) != {"success"}:
        raise SystemExit(f"shards {indices}: {statuses}")
    return {"start": start, "end": end, "peak_rss_mb": _peak_rss_mb()}


def _peak_rss_mb():
    """Return this process's peak resident set in MB (VmHWM).

    Not getrusage's ru_maxrss: Linux carries that across fork and exec, so a
    child would report its parent's peak when that was larger.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def _raw(batch):
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
    row = "(%s, %s, %s, %s, 'in_app', 'normal', '', '', '{}', 'delivered', '', now())"
    insert = (
        f"INSERT INTO {notes} (tenant_id, app_id, user_id, message, channel,"
        f" priority, subject, body, extra, status, error, created_at) VALUES "
    )
    params = {**connection.get_connection_params(), "prepare_threshold": 0}
    params.pop("cursor_factory", None)
    fanned_out, after, pending = 0, "", []
    with psycopg.connect(**params, autocommit=True) as conn:

        def flush():
            sql = insert + ", ".join([row] * (len(pending) // 4))
            conn.execute(sql, pending)
            pending.clear()

        while True:
            uids = [
                r[0]
                for r in conn.execute(
                    list_users, ("default", "my-app", "contacts", after)
                )
            ]
            if not uids:
                if pending:
                    flush()
                return fanned_out
            for uid in uids:
                rows = conn.execute(
                    query, ("default", "my-app", uid, "contacts")
                ).fetchall()
                if rows:
                    pending += (
                        "default",
                        "my-app",
                        uid,
                        f"You have {len(rows)} contacts.",
                    )
                    if len(pending) >= 4 * batch:
                        flush()
                fanned_out += 1
            after = uids[-1]


def _report(results, users, rounds):
    def med(phase, key):
        return statistics.median(r[key] for r in results[phase])

    raw_s = med("raw", "seconds") if "raw" in results else float("nan")
    print(
        f"\nbench/fanout: my-app daily_digest over {users:,} users "
        f"(1 contact each), median of {rounds} run(s) each\n"
    )
    print("| path | seconds | users/s | × raw time | peak RSS MB |")
    print("|---|---:|---:|---:|---:|")
    for phase in results:
        seconds = med(phase, "seconds")
        print(
            f"| {LABELS[phase]} | {seconds:.2f} | {users / seconds:,.0f} "
            f"| {seconds / raw_s:.2f} | {med(phase, 'peak_rss_mb'):.0f} |"
        )
    runs = {p: [round(r["seconds"], 2) for r in results[p]] for p in results}
    print(f"\nruns (s): {runs}", flush=True)


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
