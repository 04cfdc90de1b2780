"""Start the production server (scripts/serve.sh) on a free loopback port, on the test
database, for tests that talk to it over real HTTP."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from django.conf import settings

from tests.scheduler.worker import database_url

HOST = "127.0.0.1"
SERVE = Path(settings.BASE_DIR) / "scripts" / "serve.sh"
READY_TIMEOUT = 90.0
STOP_TIMEOUT = 30.0


def free_port():
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _command(workers, port):
    """Return the production server's command line: scripts/serve.sh when present."""
    if SERVE.exists():
        return [
            "bash",
            str(SERVE),
            "--workers",
            str(workers),
            "--no-migrate",
            "--no-collectstatic",
        ]
    return [
        sys.executable, "-m", "gunicorn", "imperal_platform.wsgi:application",
        "--bind", f"{HOST}:{port}", "--workers", str(workers),
    ]  # fmt: skip


class LiveServer:
    """One `scripts/serve.sh` process group; its output goes to a log file."""

    def __init__(self, log_dir, *, extensions, workers=1, env=None):
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.log_path = Path(log_dir) / f"server-{uuid.uuid4().hex[:6]}.log"
        self.command = _command(workers, self.port)
        self.env = {
            **os.environ,
            "HOST": HOST,
            "PORT": str(self.port),
            "GRACEFUL_TIMEOUT": "5",
            "DATABASE_URL": database_url(),
            "SECRET_KEY": settings.SECRET_KEY,
            "IMPERAL_EXTENSIONS": extensions,
            "IMPERAL_VAR_DIR": str(settings.VAR_DIR),
            **(env or {}),
        }
        self.process = None

    def start(self, ready=lambda status: status == 200):
        """Start the server; return self once /healthz answers a status ``ready`` accepts."""
        self._log = open(self.log_path, "w")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(
            self.command,
            cwd=settings.BASE_DIR,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited:\n{self.log()}")
            status = self._healthz(timeout=max(deadline - time.monotonic(), 0.1))
            if status is not None and ready(status):
                return self
            time.sleep(0.2)
        self.stop()
        raise AssertionError(f"server not ready in {READY_TIMEOUT} s:\n{self.log()}")

    def _healthz(self, timeout):
        """Return /healthz's status, or None while nothing listens.

        The first request a fresh server answers loads the whole application,
        which takes seconds on a busy machine: it is waited for, up to
        ``timeout``, since one sent after giving up on it only slows it down.
        """
        try:
            url = f"{self.url}/healthz"
            with urllib.request.urlopen(url, timeout=timeout) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code
        except (urllib.error.URLError, OSError):
            return None

    def log(self):
        return self.log_path.read_text() if self.log_path.exists() else ""

    def stop(self):
        """SIGTERM the server's own pid (as a supervisor would); SIGKILL the group late."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        if getattr(self, "_log", None):
            self._log.close()
