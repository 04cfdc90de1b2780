"""The production command, end to end: set up, serve, static files, stop on a signal."""

import gzip
import http.client
import json
import os
import secrets
import signal
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.test_run_command import (
    ROOT,
    assert_stops,
    command_env,
    free_port,
    http_get,
    kill_group,
    start_command,
    wait_for_200,
)

START_TIMEOUT = 120  # seconds: migrations, collectstatic and the workers, on 2 cores
SET_UP_STOP_BOUND = 5  # seconds from SIGTERM to exit while a set-up step runs
STATIC = "/static/admin/css/base.css"
WORKERS = 2
# Keep-alive connections held open at once: more than threads × workers, so a
# server that bounds connections by its threads leaves some unanswered.
HELD_CONNECTIONS = 48

pytestmark = pytest.mark.slow
embedded_only = pytest.mark.skipif(
    bool(os.environ.get("DATABASE_URL")),
    reason="the embedded default; the PostgreSQL + Redis pass runs the service test",
)


def _serve(env, output, *args):
    return start_command(["bash", "scripts/serve.sh", *args], env, output)


def _check_serving(process, port, output, var_dir):
    """Assert /healthz answers, whitenoise serves a collected file, requests are logged."""
    base = f"http://127.0.0.1:{port}"
    wait_for_200(process, f"{base}/healthz", output, timeout=START_TIMEOUT)
    status, _, body = http_get(f"{base}/healthz")
    assert (status, json.loads(body)["status"]) == (200, "ok")

    status, headers, body = http_get(base + STATIC)
    assert status == 200
    assert headers["Content-Type"].startswith("text/css")
    assert "max-age=" in headers["Cache-Control"]
    assert body == (var_dir / "static" / STATIC.removeprefix("/static/")).read_bytes()
    # DEBUG is off, so only whitenoise can answer, and it serves the gzip file
    # collectstatic wrote beside the original.
    status, headers, zipped = http_get(base + STATIC, {"Accept-Encoding": "gzip"})
    assert (status, headers.get("Content-Encoding")) == (200, "gzip")
    assert gzip.decompress(zipped) == body

    printed = output.read_text()
    assert "GET /healthz" in printed, f"no access log line on stdout:\n{printed}"


def _assert_held_connections_all_answered(port):
    """Assert each of HELD_CONNECTIONS keep-alive connections is answered in turn.

    Every answered connection stays open and idle, as a client's pool keeps it.
    """
    held = []
    try:
        for n in range(HELD_CONNECTIONS):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
            held.append(conn)
            try:
                conn.request("GET", "/v1/internal/no-such-route")
                answer = conn.getresponse()
                answer.read()
            except TimeoutError:
                pytest.fail(f"connection {n + 1} was not answered while {n} idle")
            assert answer.status == 404
    finally:
        for conn in held:
            conn.close()


def _worker_pids(pid):
    """Return the pids of the processes ``pid`` started (granian forks its workers)."""
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    return found.stdout.split()


def _assert_workers(process, count, output):
    """Assert serve.sh exec'd granian (keeping its pid) with ``count`` started workers.

    Waits for granian to report each worker started: a SIGTERM that arrives
    while a worker still starts waits for GRACEFUL_TIMEOUT (the test below).
    """
    assert b"granian" in Path(f"/proc/{process.pid}/cmdline").read_bytes()
    deadline = time.monotonic() + 20

    def ready():
        started = output.read_text().count("Started worker-")
        return len(_worker_pids(process.pid)) == count and started >= count

    while not ready() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(_worker_pids(process.pid)) == count
    assert output.read_text().count("Started worker-") >= count


@pytest.fixture(scope="module")
def var_dir(tmp_path_factory):
    """One var/ for the module: later starts are a restart on existing data."""
    return tmp_path_factory.mktemp("serve") / "var"


@embedded_only
@pytest.mark.parametrize(
    "signum", [signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name
)
def test_serve_command_serves_and_stops_when_its_pid_is_signalled(
    var_dir, tmp_path, signum
):
    port, output = free_port(), tmp_path / "serve.out"
    process = _serve(command_env(var_dir, port), output, "--workers", str(WORKERS))
    try:
        _check_serving(process, port, output, var_dir)
        _assert_workers(process, WORKERS, output)
        _assert_held_connections_all_answered(port)
        assert "WARNING: SECRET_KEY is not set" in output.read_text()
        assert (var_dir / "static" / "admin" / "css" / "base.css.gz").exists()

        os.kill(process.pid, signum)  # a supervisor signals the main pid only
        assert_stops(process, output, port, "/healthz")
    finally:
        kill_group(process)


@embedded_only
@embedded_only
def test_a_stop_while_the_workers_start_is_bounded_by_the_graceful_timeout(tmp_path):
    """granian (2.8.7, and 2.8.9 alike) waits with no limit of its own for a worker
    signalled while it still imports the app; serve.sh's --workers-kill-timeout
    (GRACEFUL_TIMEOUT) is what ends that wait."""
    port, output = free_port(), tmp_path / "serve.out"
    env = command_env(tmp_path / "var", port, GRACEFUL_TIMEOUT="2")
    process = _serve(env, output, "--workers", str(WORKERS))
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while f"Spawning worker-{WORKERS}" not in output.read_text():
            assert time.monotonic() < deadline and process.poll() is None, (
                output.read_text()
            )
            time.sleep(0.02)
        os.kill(process.pid, signal.SIGTERM)
        assert_stops(process, output, port, "/healthz")
    finally:
        kill_group(process)


def test_serve_command_stops_during_set_up(tmp_path):
    port, output = free_port(), tmp_path / "serve.out"
    process = _serve(command_env(tmp_path / "var", port), output)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while "==> migrating" not in output.read_text():
            assert time.monotonic() < deadline and process.poll() is None, (
                output.read_text()
            )
            time.sleep(0.1)
        signalled = time.monotonic()
        os.kill(process.pid, signal.SIGTERM)
        assert_stops(process, output, port, "/healthz")
        # The running step is stopped, not waited for (a migration takes longer).
        assert time.monotonic() - signalled < SET_UP_STOP_BOUND
        assert "==> serving" not in output.read_text()
    finally:
        kill_group(process)


@pytest.mark.parametrize(
    ("args", "extra", "message"),
    [
        (
            ["--workers", "0"],
            {},
            "--workers/WEB_CONCURRENCY must be an integer from 1 to 128, got '0'",
        ),
        ([], {"WEB_CONCURRENCY": "x" * 60}, f"from 1 to 128, got '{'x' * 40}...'"),
        ([], {"PORT": "70000"}, "PORT must be an integer from 1 to 65535, got '70000'"),
        (
            ["--threads", "8", "--connections", "4"],
            {},
            "--connections/WEB_CONNECTIONS must be an integer from 8 to 65536, got '4'",
        ),
        (["--bogus"], {}, "unknown option '--bogus'"),
        (
            [],
            {"DATABASE_URL": "postgres://nobody@127.0.0.1:1/none"},
            "SECRET_KEY must be set when DATABASE_URL is",
        ),
    ],
    ids=["workers-zero", "workers-long", "port", "connections", "option", "secret-key"],
)
def test_serve_command_refuses_bad_input_before_touching_anything(
    tmp_path, args, extra, message
):
    var_dir = tmp_path / "var"
    env = {**command_env(var_dir, free_port()), **extra}
    done = subprocess.run(
        ["bash", "scripts/serve.sh", *args],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2, done
    assert message in done.stderr
    assert not var_dir.exists(), "serve.sh wrote before refusing"


@pytest.fixture
def service_database():
    """Return env for a throwaway PostgreSQL database of its own (dropped after)."""
    import psycopg
    import redis

    server = os.environ["DATABASE_URL"].rsplit("/", 1)[0]
    token = secrets.token_hex(4)
    name = f"imperal_serve_{token}"
    role_prefix = f"imperal_serve_{token}_"
    prefix = f"test-serve-{token}"
    admin = urlsplit(server)._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield {
        "DATABASE_URL": f"{server}/{name}",
        "REDIS_URL": os.environ["REDIS_URL"],
        "IMPERAL_CACHE_PREFIX": prefix,
        "IMPERAL_DB_ROLE_PREFIX": role_prefix,
        "SECRET_KEY": secrets.token_urlsafe(50),
    }
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        roles = conn.execute(
            "SELECT rolname FROM pg_roles WHERE starts_with(rolname, %s)",
            (role_prefix,),
        ).fetchall()
        for (role,) in roles:
            conn.execute(f'DROP ROLE "{role}"')
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)


@pytest.mark.postgres
@pytest.mark.redis
def test_serve_command_serves_postgres_and_redis_and_stops_on_sigterm(
    service_database, tmp_path
):
    import psycopg

    port, output = free_port(), tmp_path / "serve.out"
    var_dir = tmp_path / "var"
    env = command_env(var_dir, port, **service_database)
    process = _serve(env, output, "--workers", str(WORKERS))
    try:
        _check_serving(process, port, output, var_dir)
        _assert_workers(process, WORKERS, output)
        _assert_held_connections_all_answered(port)
        assert "WARNING: SECRET_KEY" not in output.read_text()
        with psycopg.connect(service_database["DATABASE_URL"]) as conn:
            migrated = conn.execute("SELECT count(*) FROM django_migrations").fetchone()
        assert migrated[0] > 0

        os.kill(process.pid, signal.SIGTERM)
        assert_stops(process, output, port, "/healthz")
    finally:
        kill_group(process)
