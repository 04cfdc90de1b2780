"""Benchmark candidate production servers on PostgreSQL + Redis over loopback HTTP.

Creates a throwaway database (``imperal_bench_server`` on BENCH_PG), migrates it
and seeds one ctx.store document, then starts each candidate server on a free
loopback port with bench.server.settings (the platform's settings plus the
benchmark-only views of bench/server/views.py) and drives every view at each
client count in a closed loop (bench/server/load.py). Reports requests/s,
p50/p99, each view's throughput against the bare sync view measured on the same
server in the same run, and the CPU time the server's processes spent per
answered request (robust to a shared machine's load). The database and the
ctx.db roles that migrating it provisioned are dropped at the end.

    .venv/bin/pip install gunicorn==27.0.1 uvicorn==0.54.0 uvicorn-worker==0.4.0
    .venv/bin/python bench/server/run.py [--candidates gunicorn-uvicorn,granian-wsgi]
        [--clients 1,8,32] [--seconds 3] [--warm-up 1]
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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.server import load  # noqa: E402

SERVER = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DATABASE = "imperal_bench_server"
REDIS_URL = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/14")
HOST = "127.0.0.1"
CORES = os.cpu_count() or 1
START_TIMEOUT = 120.0
STOP_TIMEOUT = 30.0
VIEWS = {
    "bare": "/bench/bare",
    "bare-async": "/bench/bare-async",
    "drf": "/bench/drf",
    "store": "/bench/store",
}
BASELINE = "bare"
# Servers only this benchmark starts (requirements.txt pins the one serve.sh runs).
BENCH_ONLY = "gunicorn==27.0.1 uvicorn==0.54.0 uvicorn-worker==0.4.0"
_ASGI = "imperal_platform.asgi:application"
_WSGI = "imperal_platform.wsgi:application"


def _gunicorn(app, worker_class, *extra):
    return lambda port, workers: [
        "gunicorn", app, "-k", worker_class, *extra,
        "--bind", f"{HOST}:{port}", "--workers", str(workers),
        "--no-control-socket",
    ]  # fmt: skip


def _granian(interface, app, *extra):
    return lambda port, workers: [
        "granian", "--interface", interface, app, *extra,
        "--host", HOST, "--port", str(port), "--workers", str(workers),
    ]  # fmt: skip


def _uvicorn(port, workers):
    return [
        "uvicorn", _ASGI, "--no-access-log", "--lifespan", "off",
        "--host", HOST, "--port", str(port), "--workers", str(workers),
    ]  # fmt: skip


THREADS = 8  # per process, for the threaded WSGI candidates
# name: (argv for a port and worker count, worker count, extra environment).
# Each at the worker count its kind calls for here: one process per core for
# event loops and threaded workers, 2 x cores + 1 for one-request-at-a-time ones.
CANDIDATES = {
    "gunicorn-uvicorn": (_gunicorn(_ASGI, "uvicorn_worker.UvicornWorker"), CORES, {}),
    # The same server with MIDDLEWARE = []: what Django's middleware costs on ASGI.
    "gunicorn-uvicorn-nomw": (
        _gunicorn(_ASGI, "uvicorn_worker.UvicornWorker"),
        CORES,
        {"BENCH_NO_MIDDLEWARE": "1"},
    ),
    "gunicorn-asgi": (_gunicorn(_ASGI, "asgi"), CORES, {}),
    "uvicorn": (_uvicorn, CORES, {}),
    "granian-asgi": (_granian("asgi", _ASGI), CORES, {}),
    "gunicorn-sync": (_gunicorn(_WSGI, "sync"), 2 * CORES + 1, {}),
    "gunicorn-gthread": (
        _gunicorn(_WSGI, "gthread", "--threads", str(THREADS)),
        CORES,
        {},
    ),
    "granian-wsgi": (_granian("wsgi", _WSGI), CORES, {}),
    "granian-wsgi-t8": (
        _granian(
            "wsgi",
            _WSGI,
            "--blocking-threads",
            str(THREADS),
            "--backpressure",
            str(THREADS),
        ),
        CORES,
        {},
    ),
}


def main():
    args = _arguments()
    env = _server_env()
    _create_database()
    try:
        _prepare(env)
        _print_header(args)
        rows, failed = [], []
        for name in args.candidates:
            try:
                rows += _measure_candidate(name, env, args)
            except ServerFailed as exc:
                print(f"{name}: {exc}", file=sys.stderr)
                failed.append(name)
        _print_summary(rows, args)
    finally:
        _clean_up(env)
    if failed:
        sys.exit(f"candidates that did not serve: {', '.join(failed)}")


class ServerFailed(RuntimeError):
    """A candidate exited, or never answered, before it could be measured."""


def _arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--candidates",
        type=lambda value: value.split(","),
        default=list(CANDIDATES),
        help="comma-separated, from: " + ", ".join(CANDIDATES),
    )
    parser.add_argument(
        "--clients",
        type=lambda value: [int(n) for n in value.split(",")],
        default=[1, 8, 32],
    )
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--warm-up", type=float, default=1.0)
    args = parser.parse_args()
    unknown = set(args.candidates) - set(CANDIDATES)
    if unknown:
        parser.error(f"unknown candidates {sorted(unknown)}; known: {list(CANDIDATES)}")
    return args


def _server_env():
    """Return the environment every candidate and the set-up steps run with."""
    keep = {
        k: v for k, v in os.environ.items() if not k.startswith(("IMPERAL_", "CELERY_"))
    }
    return {
        **keep,
        "DATABASE_URL": f"{SERVER}/{DATABASE}",
        "REDIS_URL": REDIS_URL,
        "IMPERAL_CACHE_PREFIX": "bench-server",
        "IMPERAL_VAR_DIR": "/tmp/imperal-bench-server",
        "IMPERAL_DB_ROLE_PREFIX": "imperal_bench_server_",
        "DJANGO_SETTINGS_MODULE": "bench.server.settings",
        "PYTHONPATH": str(ROOT),
        "SECRET_KEY": "bench-server-not-secret",
        "LOG_LEVEL": "WARNING",
    }


def _python(env, code):
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True)


def _prepare(env):
    """Migrate the throwaway database and seed the document the store view reads."""
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    _python(
        env,
        "import asyncio, django; django.setup()\n"
        "from bench.server import views\n"
        "from apps.store import pool\n"
        "key = f'{views.COLLECTION}/{views.DOC_ID}'\n"
        "asyncio.run(views.bench_context().store.set(key, {'title': 'x' * 200}))\n"
        "pool.close_all()\n",
    )


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


def _measure_candidate(name, env, args):
    """Start ``name``, drive every view at every client count; return result rows.

    Raises ServerFailed (with the end of the server's log) if it never answers.
    """
    command, workers, extra_env = CANDIDATES[name]
    port = _free_port()
    argv = command(port, workers)
    argv[0] = str(Path(sys.executable).parent / argv[0])
    if not Path(argv[0]).exists():
        raise ServerFailed(f"not installed; pip install {BENCH_ONLY}")
    log = Path(env["IMPERAL_VAR_DIR"]) / f"{name}.log"
    print(f"==> {name}: {' '.join(argv[1:])} (log: {log})", file=sys.stderr)
    with log.open("w") as out:
        server = subprocess.Popen(
            argv,
            cwd=ROOT,
            env={**env, **extra_env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    rows = []
    try:
        _wait_ready(server, port, log)
        for clients in args.clients:
            base = None
            for view, path in VIEWS.items():
                measurement, cpu = _drive(server, port, path, clients, args)
                row = (name, workers, clients, view, measurement, cpu)
                base = measurement.rate if view == BASELINE else base
                _print_row(row, base)
                rows.append(row)
        return rows
    finally:
        _stop(server)


def _drive(server, port, path, clients, args):
    """Return the Measurement and the server's CPU milliseconds per answered request.

    CPU time (user + system, every process of the server's group) is what a
    request costs whatever else runs on the machine; throughput is not.
    """
    cpu = _group_cpu_seconds(server.pid)
    measurement = asyncio.run(
        load.drive(HOST, port, path, clients, args.seconds, args.warm_up)
    )
    cpu = _group_cpu_seconds(server.pid) - cpu
    return measurement, 1000 * cpu / max(measurement.completed, 1)


def _group_cpu_seconds(pgid):
    """Return the CPU seconds the live processes of group ``pgid`` have used."""
    ticks = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # Fields after the command's closing ")": pgrp is the 3rd, utime the 12th.
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def _wait_ready(server, port, log):
    deadline = time.monotonic() + START_TIMEOUT
    url = f"http://{HOST}:{port}{VIEWS[BASELINE]}"
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise ServerFailed(f"exited {server.returncode}:\n{_tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise ServerFailed(f"no 200 from {url} within {START_TIMEOUT} s:\n{_tail(log)}")


def _tail(log, lines=20):
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def _stop(server):
    """SIGTERM the server's main pid; SIGKILL its whole group if it lingers."""
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(server.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    server.wait()


def _free_port():
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _print_header(args):
    print(
        f"{args.seconds:g} s per cell after {args.warm_up:g} s warm-up; "
        f"{CORES} cores shared by the servers, the client and PostgreSQL\n"
    )
    print(
        "| server | workers | clients | view | req/s | p50 ms | p99 ms "
        f"| × {BASELINE} req/s | server CPU ms/req | errors |"
    )
    print("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|", flush=True)


def _print_row(row, base):
    name, workers, clients, view, m, cpu = row
    print(
        f"| {name} | {workers} | {clients} | {view} | {m.rate:,.0f} "
        f"| {m.percentile(0.5) * 1000:.2f} | {m.percentile(0.99) * 1000:.2f} "
        f"| {m.rate / base if base else float('nan'):.2f} | {cpu:.2f} | {m.errors} |",
        flush=True,
    )
    if m.errors:
        print(f"    first error: {m.first_error}", file=sys.stderr)


def _print_summary(rows, args):
    """Print req/s and CPU ms per request by server and view, per client count."""
    clients = " / ".join(str(n) for n in args.clients)
    print(f"\nreq/s at {clients} clients (server CPU ms per request, median):\n")
    print("| server | " + " | ".join(VIEWS) + " |")
    print("|---|" + "---:|" * len(VIEWS))
    for name in dict.fromkeys(row[0] for row in rows):
        cells = []
        for view in VIEWS:
            mine = [row for row in rows if (row[0], row[3]) == (name, view)]
            rates = " / ".join(f"{row[4].rate:,.0f}" for row in mine)
            cpu = statistics.median(row[5] for row in mine)
            cells.append(f"{rates} ({cpu:.2f})")
        print(f"| {name} | " + " | ".join(cells) + " |")


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
