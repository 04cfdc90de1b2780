"""README's run command, end to end: set up, serve, answer, stop on a signal.

A terminal's Ctrl-C signals the whole process group; a supervisor (systemd,
Docker, a CI runner) signals the main pid only. Both must stop the server and
the worker, leave no process of the group behind and exit 0.
"""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT = 180  # seconds: migrations, demo data and two processes on 2 cores
STOP_BOUND = 25  # seconds from the signal to an exit and an empty process group
# run.sh SIGKILLs what is left after this many seconds, and says so; a clean stop
# finishes well inside it.
RUN_STOP_TIMEOUT = 20

pytestmark = [pytest.mark.slow, pytest.mark.embedded_default]


def free_port():
    """Return a loopback TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_get(url, headers=None):
    """Return (status, headers, body) of GET ``url``, or (None, {}, b"") unreachable."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, b""
    except OSError:
        return None, {}, b""


def command_env(var_dir, port, **extra):
    """Return os.environ without this run's service settings, plus the given ones
    (the suite's loopback-only socket rule is kept)."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DATABASE_", "REDIS_", "CELERY_", "IMPERAL_"))
        and name not in {"SECRET_KEY", "DEBUG"}
        and not name.startswith("WEB_")
    }
    env["IMPERAL_TEST_ALLOW_HOSTS"] = os.environ["IMPERAL_TEST_ALLOW_HOSTS"]
    # The test's own virtualenv already holds the requirements.
    return {
        **env,
        "IMPERAL_VAR_DIR": str(var_dir),
        "PORT": str(port),
        "IMPERAL_VENV": sys.prefix,
        **extra,
    }


def start_command(argv, env, output):
    """Start ``argv`` in its own process group, as a terminal or supervisor does."""
    with output.open("w") as out:
        return subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_for_200(process, url, output, timeout=START_TIMEOUT):
    """Poll ``url`` until it answers 200; fail if the command exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"{process.args} exited {process.returncode}:\n{output.read_text()}"
            )
        if http_get(url)[0] == 200:
            return
        time.sleep(0.5)
    pytest.fail(f"no 200 from {url} within {timeout} s:\n{output.read_text()}")


def group_pids(pgid):
    """Return the pids still in process group ``pgid`` (zombies included)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                # Field 5 of /proc/PID/stat, counted after the command's closing ")".
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid:
                pids.append(int(entry.name))
    return pids


def assert_stops(process, output, port, path):
    """Assert the command exited 0 within STOP_BOUND, its group empty, its port shut."""
    try:
        returncode = process.wait(timeout=STOP_BOUND)
    except subprocess.TimeoutExpired:
        pytest.fail(
            f"still running {STOP_BOUND} s after the signal:\n{output.read_text()}"
        )
    assert returncode == 0, output.read_text()
    deadline = time.monotonic() + STOP_BOUND
    while group_pids(process.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert group_pids(process.pid) == [], "a server or worker process outlived the stop"
    assert http_get(f"http://127.0.0.1:{port}{path}")[0] is None


def kill_group(process):
    """SIGKILL whatever is left of the command's process group (test clean-up)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


@pytest.fixture(scope="module")
def var_dir(tmp_path_factory):
    """One var/ for the module: later starts are a restart on existing data."""
    return tmp_path_factory.mktemp("run") / "var"


def _wait_for_worker(log):
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if log.exists() and " ready." in log.read_text():
            return
        time.sleep(0.5)
    pytest.fail(
        f"the worker never said ready:\n{log.read_text() if log.exists() else ''}"
    )


def _start_run_command(var_dir, port, output):
    env = command_env(var_dir, port, IMPERAL_STOP_TIMEOUT=str(RUN_STOP_TIMEOUT))
    log = var_dir / "worker.log"
    if log.exists():
        log.unlink()  # "ready." must come from this start's worker
    process = start_command(["bash", "scripts/run.sh"], env, output)
    wait_for_200(process, f"http://127.0.0.1:{port}/admin/login/", output)
    _wait_for_worker(log)
    return process


def test_run_command_serves_the_admin_and_stops_on_ctrl_c(var_dir, tmp_path):
    port, output = free_port(), tmp_path / "run.out"
    process = _start_run_command(var_dir, port, output)
    try:
        printed = output.read_text()
        assert f"admin:  http://127.0.0.1:{port}/admin/" in printed
        assert "login:  admin / " in printed
        assert (var_dir / "platform.sqlite3").exists()
        assert len(group_pids(process.pid)) >= 3  # run.sh, runserver, the worker

        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C sends
        assert_stops(process, output, port, "/admin/login/")
        printed = output.read_text()
        assert "SIGKILL" not in printed
        # It says that it stops, and what it waits for.
        assert "==> stopping: SIGTERM to the Celery worker (pid " in printed
        assert "the web server (pid " in printed and "==> stopped" in printed
    finally:
        kill_group(process)


@pytest.mark.parametrize(
    "signum", [signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name
)
def test_run_command_stops_when_only_its_own_pid_is_signalled(
    var_dir, tmp_path, signum
):
    port, output = free_port(), tmp_path / "run.out"
    process = _start_run_command(var_dir, port, output)
    try:
        os.kill(process.pid, signum)  # a supervisor signals the main pid only
        assert_stops(process, output, port, "/admin/login/")
        assert "SIGKILL" not in output.read_text(), "a child needed SIGKILL"
    finally:
        kill_group(process)
