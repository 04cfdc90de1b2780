"""README's run command, end to end: set up, serve, answer, stop on Ctrl-C."""

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
_START_TIMEOUT = 180  # seconds: migrations, demo data and two processes on 2 cores
_STOP_TIMEOUT = 60

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        bool(os.environ.get("DATABASE_URL")),
        reason="the run command is the embedded default; the embedded pass runs it",
    ),
]


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _status(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


def _run_command_env(var_dir, port):
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DATABASE_", "REDIS_", "CELERY_", "IMPERAL_"))
    }
    # The test's own virtualenv already holds the requirements.
    return {
        **env,
        "IMPERAL_VAR_DIR": str(var_dir),
        "PORT": str(port),
        "IMPERAL_VENV": sys.prefix,
    }


def _wait_for_login_page(process, url, output):
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"run.sh exited {process.returncode}:\n{output.read_text()}")
        if _status(url) == 200:
            return
        time.sleep(1)
    pytest.fail(f"no 200 from {url} within {_START_TIMEOUT} s:\n{output.read_text()}")


def _wait_for_worker(log):
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        if log.exists() and " ready." in log.read_text():
            return
        time.sleep(1)
    pytest.fail(
        f"the worker never said ready:\n{log.read_text() if log.exists() else ''}"
    )


def _group_alive(pgid):
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_run_command_serves_the_admin_and_stops_on_ctrl_c(tmp_path):
    port, var_dir, output = _free_port(), tmp_path / "var", tmp_path / "run.out"
    with output.open("w") as out:
        process = subprocess.Popen(
            ["bash", "scripts/run.sh"],
            cwd=ROOT,
            env=_run_command_env(var_dir, port),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as a terminal gives it
        )
    try:
        _wait_for_login_page(process, f"http://127.0.0.1:{port}/admin/login/", output)
        _wait_for_worker(var_dir / "worker.log")
        printed = output.read_text()
        assert f"admin:  http://127.0.0.1:{port}/admin/" in printed
        assert "login:  admin / " in printed
        assert (var_dir / "platform.sqlite3").exists()

        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C sends
        assert process.wait(timeout=_STOP_TIMEOUT) == 0, output.read_text()
        deadline = time.monotonic() + _STOP_TIMEOUT
        while _group_alive(process.pid) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not _group_alive(process.pid), (
            "a server or worker process outlived Ctrl-C"
        )
        assert _status(f"http://127.0.0.1:{port}/admin/login/") is None
    finally:
        if _group_alive(process.pid):
            os.killpg(process.pid, signal.SIGKILL)
