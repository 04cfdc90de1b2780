"""Start real Celery worker processes against the test database (for slow tests)."""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection

from apps.scheduler.tasks import fire_schedule_task
from imperal_platform.celery import app as celery_app


def database_url():
    """Return a DATABASE_URL naming the database this test process uses."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    host = db.get("HOST") or "127.0.0.1"
    return f"postgres://{db['USER']}@{host}:{db.get('PORT') or 5432}/{db['NAME']}"


class Broker:
    """A broker of the test's own: a fresh filesystem folder, or a fresh Redis queue."""

    def __init__(self, kind, tmp_path):
        self.kind = kind
        self.queue = f"imperal-test-{uuid.uuid4().hex[:10]}"
        self.folder = Path(tmp_path) / "broker"
        if kind == "filesystem":
            self.url = "filesystem://"
            for sub in ("queue", "processed", "control"):
                (self.folder / sub).mkdir(parents=True, exist_ok=True)
            self.transport_options = {
                "data_folder_in": str(self.folder / "queue"),
                "data_folder_out": str(self.folder / "queue"),
                "processed_folder": str(self.folder / "processed"),
                "control_folder": str(self.folder / "control"),
            }
        else:
            self.url = settings.REDIS_URL
            self.transport_options = {}

    def env(self):
        env = {"CELERY_BROKER_URL": self.url, "CELERY_QUEUE": self.queue}
        if self.kind == "filesystem":
            env["IMPERAL_CELERY_DIR"] = str(self.folder)
        return env

    def discard(self):
        """Delete what this broker's queue left in Redis (queue and bindings)."""
        if self.kind != "redis":
            return
        client = redis.Redis.from_url(self.url)
        try:
            keys = list(client.scan_iter(match=f"*{self.queue}*"))
            if keys:
                client.delete(*keys)
        finally:
            client.close()

    def send_fire(self, app_id, schedule, **kwargs):
        """Queue one fire task on this broker, as beat or the admin would."""
        with celery_app.connection_for_write(
            self.url, transport_options=self.transport_options
        ) as conn:
            fire_schedule_task.apply_async(
                kwargs={"app_id": app_id, "schedule": schedule, **kwargs},
                queue=self.queue,
                connection=conn,
            )


class Worker:
    """One `celery worker` process (solo pool, optionally with embedded beat)."""

    def __init__(self, broker, tmp_path, *, extensions, beat=False, env=None):
        self.broker = broker
        self.log_path = Path(tmp_path) / f"worker-{uuid.uuid4().hex[:6]}.log"
        self.beat = beat
        self.env = {
            **os.environ,
            **broker.env(),
            "DATABASE_URL": database_url(),
            "SECRET_KEY": settings.SECRET_KEY,
            "IMPERAL_EXTENSIONS": extensions,
            "IMPERAL_VAR_DIR": str(settings.VAR_DIR),
            **(env or {}),
        }
        self.process = None

    def start(self, ready_timeout=60):
        cmd = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "imperal_platform",
            "worker",
            "--pool=solo",
            "-Q",
            self.broker.queue,
            "-n",
            f"{self.broker.queue}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel=INFO",
        ]
        if self.beat:
            cmd += ["-B", "-s", str(self.log_path.with_suffix(".beat"))]
        self._log = open(self.log_path, "w")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(
            cmd,
            cwd=settings.BASE_DIR,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_until(
            lambda: " ready." in self.log() or self.process.poll() is not None,
            ready_timeout,
            "worker ready",
        )
        assert self.process.poll() is None, f"worker exited:\n{self.log()}"
        return self

    def log(self):
        return self.log_path.read_text() if self.log_path.exists() else ""

    def kill(self):
        """SIGKILL the worker and everything it started, without any cleanup."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self):
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        if getattr(self, "_log", None):
            self._log.close()


@pytest.fixture(name="workers")
def workers_fixture():
    """Return a list for the Workers a test starts; each is stopped after the
    test, and each Redis broker's queue dropped."""
    started = []
    yield started
    for worker in started:
        worker.stop()
    for broker in {id(w.broker): w.broker for w in started}.values():
        broker.discard()


def wait_until(predicate, timeout, what):
    """Poll ``predicate`` every 0.25 s; return its value, or fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
