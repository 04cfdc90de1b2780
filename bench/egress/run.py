"""ctx.http's guard overhead per call: a GET against a local server through ctx.http
beside the same GET with bare httpx, in one run.

Run from the repository root (embedded default, or DATABASE_URL / REDIS_URL):

    python bench/egress/run.py [--rounds 7] [--calls 200] [--profile]

Variants, interleaved round by round on one event loop (the machine is noisy):
- ``sdk``: imperal-sdk's own HTTPClient (a new httpx.AsyncClient per call,
  which builds a new SSL context each time);
- ``bare per-call``: a new httpx.AsyncClient per call sharing one SSL context,
  as ctx.http does — the like-for-like baseline;
- ``ctx.http``: the platform's client: scheme check, rate count, connection
  slot, resolve + policy decision, pinned connect, capped read, record;
- ``bare pooled`` / ``guarded pooled``: one long-lived client each (keep-alive),
  the second over the guard's pinned transport.
Exit status 1 when ctx.http's median exceeds GATE x bare per-call's.
``--profile`` runs the ctx.http variant under yappi instead and prints where its
time goes (wall clock, this thread).
"""

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imperal_platform.settings")

import django  # noqa: E402

django.setup()

import httpx  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from imperal_sdk.http import HTTPClient  # noqa: E402

from apps.accounts.partition import Partition  # noqa: E402
from apps.db.core import get_backend  # noqa: E402
from apps.egress.face import EgressHTTPClient  # noqa: E402
from apps.egress.guard import Guard  # noqa: E402
from apps.egress.records import recorder  # noqa: E402
from apps.egress.transport import (  # noqa: E402
    PinnedBackend,
    PinnedTransport,
    shared_ssl_context,
)

APP_ID = "bench-egress"
GATE = 1.2


def start_upstream():
    """Start bench/egress/upstream.py; return (process, port)."""
    port_file = Path(tempfile.mkdtemp()) / "port"
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("upstream.py")), str(port_file)]
    )
    deadline = time.monotonic() + 30
    while not port_file.exists() or not port_file.read_text():
        if time.monotonic() > deadline:
            process.kill()
            raise SystemExit("the upstream did not start")
        time.sleep(0.05)
    return process, int(port_file.read_text())


def variants(url):
    """Return {name: async callable making one GET} and the pooled clients to close."""
    partition = Partition("default", APP_ID, "bench-user")
    ssl = shared_ssl_context()
    sdk = HTTPClient()
    guarded = EgressHTTPClient(partition)
    pooled = httpx.AsyncClient(verify=ssl, timeout=30)
    guard = Guard(partition)
    guarded_pool = httpx.AsyncClient(
        transport=PinnedTransport(PinnedBackend(guard.admit)), timeout=30
    )

    async def bare_per_call():
        async with httpx.AsyncClient(
            verify=ssl, timeout=30, follow_redirects=True, max_redirects=5
        ) as client:
            response = await client.get(url)
            response.json()

    async def pooled_get():
        (await pooled.get(url)).json()

    async def guarded_pooled_get():
        (await guarded_pool.get(url)).json()

    calls = {
        "sdk": lambda: sdk.get(url),
        "bare per-call": bare_per_call,
        "ctx.http": lambda: guarded.get(url),
        "bare pooled": pooled_get,
        "guarded pooled": guarded_pooled_get,
    }
    return calls, (pooled, guarded_pool)


async def measure(calls, rounds, per_round):
    times = {name: [] for name in calls}
    for call in calls.values():  # warm up: imports, first connections
        for _ in range(5):
            await call()
    for _ in range(rounds):
        for name, call in calls.items():
            per = 20 if name == "sdk" else per_round  # ~25 ms a call: keep it short
            for _ in range(per):
                started = time.perf_counter()
                await call()
                times[name].append((time.perf_counter() - started) * 1e6)
    return times


def report(times):
    base = statistics.median(times["bare per-call"])
    print("| variant | calls | p50 µs | p99 µs | p50 × bare per-call |")
    print("|---|---:|---:|---:|---:|")
    for name, samples in times.items():
        samples = sorted(samples)
        p50 = statistics.median(samples)
        p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
        print(f"| {name} | {len(samples)} | {p50:.0f} | {p99:.0f} | {p50 / base:.2f} |")
    ratio = statistics.median(times["ctx.http"]) / base
    pooled = statistics.median(times["guarded pooled"]) / statistics.median(
        times["bare pooled"]
    )
    print(f"\nctx.http / bare per-call p50 = {ratio:.2f} (gate {GATE})")
    print(f"guarded pooled / bare pooled p50 = {pooled:.2f}")
    return ratio


async def profile(calls, count):
    import yappi

    call = calls["ctx.http"]
    for _ in range(20):
        await call()
    yappi.set_clock_type("wall")
    yappi.start()
    for _ in range(count):
        await call()
    yappi.stop()
    stats = yappi.get_func_stats(
        filter_callback=lambda s: "site-packages/yappi" not in s.module
    )
    stats.sort("ttot").print_all(
        columns={0: ("name", 80), 1: ("ncall", 8), 3: ("ttot", 8), 4: ("tavg", 8)}
    )


async def main(args):
    # Leased like the default 1200/min (12 permits a lease), never reached.
    settings.IMPERAL_EGRESS_RATE = "1200/s"
    process, port = start_upstream()
    settings.IMPERAL_EGRESS_ALLOW = {APP_ID: [f"127.0.0.1:{port}"]}
    from apps.egress.policy import reset_policy

    reset_policy()
    calls, clients = variants(f"http://127.0.0.1:{port}/json")
    try:
        if args.profile:
            await profile(calls, args.calls)
            return 0
        ratio = report(await measure(calls, args.rounds, args.calls))
        return 0 if ratio <= GATE else 1
    finally:
        for client in clients:
            await client.aclose()
        process.terminate()
        recorder.flush()
        # migrate provisioned the bundled extensions' ctx.db roles (cluster-wide).
        await asyncio.to_thread(get_backend().deprovision_all)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--profile", action="store_true")
    call_command("migrate", verbosity=0)
    db = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    cache = "redis" if settings.REDIS_URL else "embedded"
    print(f"database={db} cache={cache} load={os.getloadavg()[0]:.1f}\n")
    sys.exit(asyncio.run(main(parser.parse_args())))
