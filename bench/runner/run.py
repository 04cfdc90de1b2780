"""Benchmark where a call runs: in-process vs an isolated worker, in one run.

    .venv/bin/python bench/runner/run.py [--calls 400] [--users 1000]
    (DATABASE_URL / REDIS_URL as for the tests; embedded without them)

Starts the production server (scripts/serve.sh, 1 web worker) with the bench
extension isolated (2 workers; its supervisor starts them), on a database of
its own that it migrates and seeds. Then, alternating phases in this process:

- a tool doing one ``ctx.store.get``: p50/p99 latency and calls/s at 1 and 16
  concurrent callers (threads), run in-process and isolated (the kernel's same
  ``prepare_tool(...).run()``, the runtime switched by IMPERAL_EXTENSION_RUNTIME);
  the handler also times its own read, so isolated p50 minus in-process p50 is
  split into the read's extra cost (imperal-sdk's StoreClient through the
  gateway vs the ORM) and the dispatch's (queue, claim, reply);
- the seed's digest fan-out (``list_users``, a query and a notification per
  user) over ``--users`` users, fired in-process and isolated: users/s.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APP = "runner-bench"
ENTRY = "bench.runner.bench_ext"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--users", type=int, default=1000)
    args = parser.parse_args()
    var = Path(tempfile.mkdtemp(prefix="bench-runner-"))
    os.environ.setdefault("IMPERAL_VAR_DIR", str(var))
    os.environ["IMPERAL_EXTENSIONS"] = ENTRY
    os.environ["IMPERAL_EXTENSION_RUNTIME"] = json.dumps({APP: "isolated"})
    os.environ.setdefault("SECRET_KEY", "bench-runner-secret")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imperal_platform.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    server = start_server(var)
    try:
        results = run_phases(args)
    finally:
        stop_server(server)
    print(json.dumps(results, indent=2))


def start_server(var):
    import urllib.request

    port = free_port()
    env = {**os.environ, "PORT": str(port), "HOST": "127.0.0.1", "DEBUG": "0"}
    log = open(var / "server.log", "w")  # noqa: SIM115
    process = subprocess.Popen(
        ["bash", str(ROOT / "scripts" / "serve.sh"), "--workers", "1",
         "--no-migrate", "--no-collectstatic"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    until = time.monotonic() + 90
    while time.monotonic() < until:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                break
        except OSError:
            time.sleep(0.3)
    time.sleep(3)  # the supervisor's workers start beside the server
    return process


def stop_server(process):
    import signal

    os.killpg(process.pid, signal.SIGTERM)
    process.wait(30)


def free_port():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_phases(args):
    from asgiref.sync import async_to_sync
    from django.conf import settings

    from apps.accounts.models import User
    from apps.accounts.partition import Partition
    from apps.extensions.invocation import prepare_tool
    from apps.extensions.sync import sync_extensions
    from apps.store.connections import DjangoConnection
    from apps.store.core import DocumentStore
    from apps.store.models import AuditEntry

    sync_extensions()
    User.objects.get_or_create(
        imperal_id="bench-user", defaults={"tenant_id": "default"}
    )
    store = DocumentStore(DjangoConnection())
    actor = AuditEntry.Actor.SYSTEM
    doc = store.create(
        Partition("default", APP, "bench-user"), actor, "items", {"n": 1}
    )

    def one_call():
        call = prepare_tool(APP, "get_one", "bench-user", {"doc_id": doc.id})
        result = async_to_sync(call.run)()
        assert result["found"] is True, result
        return result["read_ms"]

    results = {"tool": {}, "fanout": {}}
    for _ in range(20):  # warm both paths
        for runtime in ("in-process", "isolated"):
            settings.IMPERAL_EXTENSION_RUNTIME = {APP: runtime}
            one_call()
    for concurrency in (1, 16):
        for runtime in ("in-process", "isolated"):
            settings.IMPERAL_EXTENSION_RUNTIME = {APP: runtime}
            results["tool"][f"{runtime}, {concurrency} callers"] = measure(
                one_call, args.calls, concurrency
            )
    seed_users(store, args.users)
    for runtime in ("in-process", "isolated"):
        settings.IMPERAL_EXTENSION_RUNTIME = {APP: runtime}
        results["fanout"][runtime] = fan_out(args.users)
    results["isolated p50 over in-process"] = split_of(results["tool"])
    return results


def split_of(tool):
    """Return, per caller count, isolated p50 minus in-process p50 split in two:
    the store read's own extra cost (measured inside the handler: imperal-sdk's
    StoreClient through the gateway vs the ORM) and the rest (the dispatch)."""
    split = {}
    for concurrency in (1, 16):
        inside = tool[f"in-process, {concurrency} callers"]
        isolated = tool[f"isolated, {concurrency} callers"]
        extra = isolated["p50_ms"] - inside["p50_ms"]
        read = isolated["read_p50_ms"] - inside["read_p50_ms"]
        split[f"{concurrency} callers"] = {
            "extra_ms": round(extra, 2),
            "store_read_ms": round(read, 2),
            "dispatch_ms": round(extra - read, 2),
        }
    return split


def measure(one_call, calls, concurrency):
    latencies, reads, lock = [], [], threading.Lock()
    per_thread = max(1, calls // concurrency)

    def worker():
        mine, my_reads = [], []
        for _ in range(per_thread):
            started = time.perf_counter()
            my_reads.append(one_call())
            mine.append((time.perf_counter() - started) * 1000)
        with lock:
            latencies.extend(mine)
            reads.extend(my_reads)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "calls": len(latencies),
        "p50_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 2),
        "calls_per_s": round(len(latencies) / elapsed, 1),
        "read_p50_ms": round(statistics.median(reads), 2),
    }


def seed_users(store, users):
    from apps.accounts.partition import Partition
    from apps.store.models import AuditEntry

    for index in range(users):
        partition = Partition("default", APP, f"user-{index:06d}")
        store.create(
            partition, AuditEntry.Actor.SYSTEM, "contacts", {"name": f"c{index}"}
        )


def fan_out(users):
    from apps.notifications.models import Notification
    from apps.scheduler.fire import fire_now

    Notification.objects.filter(app_id=APP).delete()
    started = time.perf_counter()
    run = fire_now(APP, "digest", local=True)
    elapsed = time.perf_counter() - started
    sent = Notification.objects.filter(app_id=APP).count()
    assert run.status == "success", run.error
    assert sent == users, (sent, users)
    return {
        "users": users,
        "seconds": round(elapsed, 2),
        "users_per_s": round(users / elapsed, 1),
    }


if __name__ == "__main__":
    main()
