"""Benchmark the gateway through imperal-sdk's own StoreClient on the production server.

Creates a throwaway PostgreSQL database (``imperal_bench_gateway`` on BENCH_PG),
migrates it, seeds one user's documents and issues a service token bound to that
user, then starts ``scripts/serve.sh`` on a free loopback port (settings
bench.gateway.settings: the platform plus one bare Django JSON view) and drives,
at each client count, in interleaved rounds: the bare view (GET through the SDK's
own shared httpx client), ``StoreClient.get`` and ``StoreClient.query``. Reports
requests/s and p50/p99 per cell and exits 1 unless store get reaches GATE × the
bare view's throughput at the largest client count. The database and the ctx.db
roles that migrating it provisioned are dropped at the end.

    .venv/bin/python bench/gateway/run.py [--clients 1,8,32] [--seconds 5]
        [--rounds 3] [--workers N] [--gate 0.5]
"""

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVER = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DATABASE = "imperal_bench_gateway"
REDIS_URL = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/12")
HOST = "127.0.0.1"
APP = "bench-gateway"
USER = "bench-user"
COLLECTION = "items"
QUERY = {"where": {"kind": "a"}, "order_by": "-n", "limit": 10}
DOCUMENTS = 100
START_TIMEOUT = 90.0
STOP_TIMEOUT = 30.0
VIEWS = ("bare", "store-get", "store-query")

SEED = f"""
import django, json
django.setup()
from apps.accounts.partition import Partition
from apps.gateway.tokens import issue_token
from apps.store.connections import DjangoConnection
from apps.store.core import DocumentStore
store = DocumentStore(DjangoConnection())
partition = Partition("default", {APP!r}, {USER!r})
for n in range({DOCUMENTS}):
    data = {{"doc_id": f"doc-{{n}}", "n": n, "kind": "ab"[n % 2], "title": "x" * 200}}
    store.create(partition, "user", {COLLECTION!r}, data)
print(issue_token({APP!r}, user_id={USER!r}).raw)
"""


@dataclass
class Cell:
    """Latencies (seconds) of the calls of one view at one client count."""

    seconds: float = 0.0
    latencies: list = field(default_factory=list)
    errors: int = 0
    first_error: str = ""

    @property
    def rate(self):
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def percentile(self, fraction):
        if len(self.latencies) < 2:
            return float("nan")
        return statistics.quantiles(self.latencies, n=100)[round(fraction * 100) - 1]


def main():
    args = _arguments()
    env = _env()
    _create_database()
    try:
        token = _prepare(env)
        server, url = _start(env, args.workers)
        try:
            cells = _measure(url, token, args)
        finally:
            _stop(server)
        passed = _report(cells, args)
    finally:
        _clean_up(env)
    sys.exit(0 if passed else 1)


def _arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--clients", type=lambda v: [int(n) for n in v.split(",")], default=[1, 8, 32]
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="per cell and round")
    parser.add_argument("--warm-up", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--gate", type=float, default=0.5)
    return parser.parse_args()


def _env():
    keep = {
        k: v for k, v in os.environ.items() if not k.startswith(("IMPERAL_", "CELERY_"))
    }
    return {
        **keep,
        "DATABASE_URL": f"{SERVER}/{DATABASE}",
        "REDIS_URL": REDIS_URL,
        "IMPERAL_CACHE_PREFIX": "bench-gateway",
        "IMPERAL_VAR_DIR": "/tmp/imperal-bench-gateway",
        "IMPERAL_DB_ROLE_PREFIX": "imperal_bench_gw_",
        "IMPERAL_EXTENSIONS": "bench.gateway.extension",
        "DJANGO_SETTINGS_MODULE": "bench.gateway.settings",
        "PYTHONPATH": str(ROOT),
        "SECRET_KEY": "bench-gateway-not-secret",
        "LOG_LEVEL": "WARNING",
    }


def _python(env, code):
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def _prepare(env):
    """Migrate, seed the documents; return the raw service token (never printed)."""
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    return _python(env, SEED).strip().splitlines()[-1]


def _start(env, workers):
    port = _free_port()
    command = ["bash", str(ROOT / "scripts" / "serve.sh"), "--workers", str(workers)]
    command += ["--no-migrate", "--no-collectstatic"]
    print(f"==> {' '.join(command[1:])} on port {port}", file=sys.stderr)
    server = subprocess.Popen(
        command,
        cwd=ROOT,
        env={**env, "HOST": HOST, "PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://{HOST}:{port}"
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"server exited {server.returncode} before answering")
        try:
            with urllib.request.urlopen(f"{url}/bench/bare", timeout=2) as response:
                if response.status == 200:
                    return server, url
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    _stop(server)
    raise SystemExit(f"no 200 from {url}/bench/bare within {START_TIMEOUT} s")


def _measure(url, token, args):
    cells = {(c, v): Cell() for c in args.clients for v in VIEWS}
    for round_number in range(args.rounds):
        for clients in args.clients:
            for view in VIEWS:
                cell = cells[clients, view]
                asyncio.run(_drive(url, token, view, clients, args, cell))
                print(
                    f"    round {round_number + 1} {view} x{clients}: "
                    f"{len(cell.latencies)} calls so far, {cell.errors} errors "
                    f"{cell.first_error}",
                    file=sys.stderr,
                )
    return cells


def _call(url, token, view):
    """Return a coroutine function making one call of ``view`` the SDK's way."""
    from imperal_sdk._shared_http import shared_http
    from imperal_sdk.store.client import StoreClient

    store = StoreClient(url, service_token=token, extension_id=APP, user_id=USER)

    async def bare():
        async with shared_http() as client:
            response = await client.get(f"{url}/bench/bare", timeout=30)
            response.raise_for_status()
            return response.json()

    async def get():
        document = await store.get(COLLECTION, "doc-1")
        if document is None:
            raise LookupError("the seeded document is missing")

    async def query():
        page = await store.query(COLLECTION, **QUERY)
        if len(page.data) != QUERY["limit"]:
            raise LookupError(f"query returned {len(page.data)} documents")

    return {"bare": bare, "store-get": get, "store-query": query}[view]


async def _drive(url, token, view, clients, args, cell):
    from imperal_sdk import _shared_http

    _shared_http.reset()  # a fresh pool per cell, warmed up below
    call = _call(url, token, view)
    loop = asyncio.get_running_loop()
    start = loop.time() + args.warm_up
    end = start + args.seconds
    cell.seconds += args.seconds

    async def client():
        while loop.time() < end:
            began, sent_at = time.perf_counter(), loop.time()
            try:
                await call()
            except Exception as exc:  # any failed call is counted and shown
                cell.errors += 1
                cell.first_error = cell.first_error or f"{type(exc).__name__}: {exc}"
                continue
            if sent_at >= start and loop.time() <= end:
                cell.latencies.append(time.perf_counter() - began)

    await asyncio.gather(*(client() for _ in range(clients)))
    await _shared_http.aclose()


def _report(cells, args):
    top = max(args.clients)
    print(
        f"\n{args.rounds} rounds x {args.seconds:g} s per cell after "
        f"{args.warm_up:g} s warm-up; server workers: {args.workers}; "
        f"{os.cpu_count()} cores shared by the server and the client\n"
    )
    print("| clients | view | req/s | p50 ms | p99 ms | × bare req/s | errors |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for clients in args.clients:
        base = cells[clients, "bare"].rate or float("nan")
        for view in VIEWS:
            cell = cells[clients, view]
            print(
                f"| {clients} | {view} | {cell.rate:,.0f} "
                f"| {cell.percentile(0.5) * 1000:.2f} "
                f"| {cell.percentile(0.99) * 1000:.2f} "
                f"| {cell.rate / base:.2f} | {cell.errors} |"
            )
    ratio = cells[top, "store-get"].rate / (cells[top, "bare"].rate or float("nan"))
    errors = sum(cell.errors for cell in cells.values())
    passed = ratio >= args.gate and errors == 0
    print(
        f"\nGate: store get at {top} clients = {ratio:.2f} × the bare view "
        f"(needs ≥ {args.gate}), {errors} errors: {'PASS' if passed else 'FAIL'}"
    )
    return passed


def _stop(server):
    """SIGTERM the server's main pid; SIGKILL its group if it lingers."""
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


def _free_port():
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _clean_up(env):
    """Drop the ctx.db roles migrating provisioned (cluster-wide), then the database."""
    try:
        _python(
            env,
            "import django; django.setup()\n"
            "from apps.db.core import close_pools, get_backend\n"
            "get_backend().deprovision_all(); close_pools()\n",
        )
    finally:
        _drop_database()


def _create_database():
    import psycopg

    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DATABASE}")


def _drop_database():
    import psycopg

    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")


if __name__ == "__main__":
    main()
