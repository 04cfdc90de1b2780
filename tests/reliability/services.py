"""Private PostgreSQL and Redis servers, and the platform on them, for fault injection.

Every server here is started by the test (or the soak) on a spare loopback
port and stopped by it; the machine's shared PostgreSQL and Redis are never
touched. PostgreSQL refuses to run as root, so when we are root its cluster
belongs to (and runs as) the ``postgres`` user.
"""

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from apps.runtime.host import process_alive

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
START_TIMEOUT = 60.0


def spare_port():
    """Return a loopback TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def wait_for_port(port, timeout=START_TIMEOUT):
    """Return once something accepts on ``port``; raise RuntimeError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection((HOST, port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {HOST}:{port} after {timeout:g} s")


def postgres_bin():
    """Return the directory of PostgreSQL's server binaries, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


def missing_binaries():
    """Return why private servers cannot be started here, or '' when they can."""
    if shutil.which("redis-server") is None:
        return "redis-server is not on PATH"
    if postgres_bin() is None:
        return "no PostgreSQL server binaries under /usr/lib/postgresql"
    return ""


class PrivateRedis:
    """A redis-server of our own on a spare port, without persistence."""

    def __init__(self, port=None, password=""):
        self.port = port or spare_port()
        self.password = password
        self.process = None

    @property
    def url(self):
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}{HOST}:{self.port}/0"

    def start(self):
        """Start it (again, on the same port); return once it accepts."""
        command = ["redis-server", "--port", str(self.port), "--bind", HOST]
        command += ["--save", "", "--appendonly", "no"]
        if self.password:
            command += ["--requirepass", self.password]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_for_port(self.port)

    def stop(self):
        """Stop it (SIGTERM) and wait; its entries are gone (no persistence)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


class PrivatePostgres:
    """A PostgreSQL cluster of our own (initdb) in a temporary directory."""

    def __init__(self, port=None):
        self.port = port or spare_port()
        self.bin = postgres_bin()
        self.root = Path(tempfile.mkdtemp(prefix="imperal-reliability-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self._as_postgres = os.geteuid() == 0
        self.process = None
        if self._as_postgres:
            entry = pwd.getpwnam("postgres")
            os.chown(self.root, entry.pw_uid, entry.pw_gid)

    def url(self, database="postgres"):
        return f"postgres://postgres@{HOST}:{self.port}/{database}"

    def _user(self):
        return {"user": "postgres", "group": "postgres"} if self._as_postgres else {}

    def _run(self, *args):
        command = [str(self.bin / args[0]), *args[1:]]
        return subprocess.run(
            command, check=True, capture_output=True, text=True, **self._user()
        )

    def init(self):
        """Create the cluster (trust auth for local connections) and start it."""
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres")
        self.start()

    def start(self):
        """Start the server and return once it accepts connections.

        After a SIGKILL, PostgreSQL replays its WAL first. The postmaster is
        our child (no pg_ctl), so a killed one is reaped here and its pid file
        never names a zombie.
        """
        # fsync off: the faults here kill processes, not the machine, so what
        # PostgreSQL wrote is in the kernel's page cache either way.
        command = [
            str(self.bin / "postgres"), "-D", str(self.data), "-p", str(self.port),
            "-c", f"listen_addresses={HOST}", "-k", str(self.root),
            "-c", "fsync=off", "-c", "max_connections=200",
        ]  # fmt: skip
        with open(self.log, "a") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, **self._user()
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"postgres exited:\n{self.log.read_text()[-2000:]}")
            ready = subprocess.run(
                [str(self.bin / "pg_isready"), "-q", "-h", HOST, "-p", str(self.port)],
                check=False,
            )
            if ready.returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError(f"postgres not ready in {START_TIMEOUT:g} s")

    def stop(self):
        """Fast shutdown (SIGINT): open transactions roll back, sessions close."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            self.process.wait(START_TIMEOUT)

    def kill(self):
        """SIGKILL the postmaster and every one of its processes at once."""
        victims = [self.process.pid, *_children(self.process.pid)]
        for pid in victims:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait(10)
        # A backend still attached to the old shared memory would stop the
        # next postmaster from starting.
        deadline = time.monotonic() + 10
        while (
            any(process_alive(pid) for pid in victims) and time.monotonic() < deadline
        ):
            time.sleep(0.05)

    def pause(self):
        """Freeze the postmaster: the kernel still accepts, nobody ever answers."""
        self.process.send_signal(signal.SIGSTOP)

    def resume(self):
        self.process.send_signal(signal.SIGCONT)

    def create_database(self, name):
        self._run("createdb", "-h", HOST, "-p", str(self.port), "-U", "postgres", name)

    def destroy(self):
        """Stop the server (immediately) and delete the cluster's directory."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)
            self.process.wait(START_TIMEOUT)
        shutil.rmtree(self.root, ignore_errors=True)


def _children(parent):
    children = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            fields = Path(stat).read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent:
            children.append(int(stat.split("/")[2]))
    return children


def platform_env(pg, redis, var_dir, database, **extra):
    """Return the environment of a platform process on the private servers."""
    return {
        **os.environ,
        "DATABASE_URL": pg.url(database),
        "REDIS_URL": redis.url,
        "CELERY_BROKER_URL": redis.url,
        "IMPERAL_CACHE_PREFIX": "reliability",
        "IMPERAL_VAR_DIR": str(var_dir),
        "IMPERAL_EXTENSIONS": (
            "tests.reliability.extension,tests.reliability.extension_b"
        ),
        "SECRET_KEY": "reliability-secret-key-not-for-logs-0123456789abcdef",
        "IMPERAL_API_RATE": "",
        **extra,
    }


def manage(env, *args):
    """Run ``manage.py args`` in ``env``; return its stdout (raise on failure)."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


def rss_bytes(pid):
    """Return the resident memory of ``pid`` and its descendants, in bytes."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
        pending.extend(_children(current))
    return total


class PlatformServer:
    """``scripts/serve.sh`` (granian, the production command) on a spare port."""

    def __init__(self, env, log_path, workers=1):
        self.port = spare_port()
        self.url = f"http://{HOST}:{self.port}"
        self.env = {
            **env,
            "HOST": HOST,
            "PORT": str(self.port),
            "GRACEFUL_TIMEOUT": "5",
        }
        self.log_path = Path(log_path)
        self.workers = workers
        self.process = None

    def start(self):
        """Start it; return once /healthz answers 200."""
        command = ["bash", str(ROOT / "scripts" / "serve.sh"), "--workers",
                   str(self.workers), "--no-migrate", "--no-collectstatic"]  # fmt: skip
        with open(self.log_path, "a") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=self.env, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited:\n{self.log_path.read_text()}")
            # The first answer loads the application: wait for it, not 2 s.
            remaining = max(deadline - time.monotonic(), 0.1)
            if http_status(f"{self.url}/healthz", timeout=remaining) == 200:
                return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"server not ready:\n{self.log_path.read_text()}")

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)


def http_status(url, timeout=2):
    """Return the HTTP status of GET ``url``, or None when nothing answers."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError):
        return None


class Traffic:
    """A ``tests.reliability.traffic`` run in its own process."""

    def __init__(self, env, log_path, **config):
        import json

        # Its log goes to a file: a pipe nobody reads would block it once full.
        self.log_path = Path(log_path)
        self.ready_file = self.log_path.with_suffix(f".{time.monotonic_ns()}.ready")
        config["ready_file"] = str(self.ready_file)
        with open(self.log_path, "a") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tests.reliability.traffic", json.dumps(config)],
                cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=log, text=True,
            )  # fmt: skip

    def wait_ready(self, timeout=120):
        """Return once its clients are set up and about to start; raise if it died."""
        deadline = time.monotonic() + timeout
        while not self.ready_file.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.result()  # raises with the log
                raise RuntimeError("traffic ended before it was ready")
            time.sleep(0.05)
        return self

    def result(self, timeout=900):
        """Wait for the run and return its report; raise with its log if it failed."""
        import json

        out, _ = self.process.communicate(timeout=timeout)
        if self.process.returncode != 0:
            tail = self.log_path.read_text()[-4000:]
            raise RuntimeError(f"traffic failed ({self.process.returncode}):\n{tail}")
        return json.loads(out)


class Stack:
    """Private PostgreSQL + Redis, a migrated platform database, and its server."""

    def __init__(self, var_dir, database="imperal", **env):
        self.var_dir = Path(var_dir)
        self.var_dir.mkdir(parents=True, exist_ok=True)
        self.pg, self.redis = PrivatePostgres(), PrivateRedis()
        self.database = database
        self.extra_env = env
        self.server = None

    @property
    def env(self):
        return platform_env(
            self.pg, self.redis, self.var_dir, self.database, **self.extra_env
        )

    def start(self, workers=1):
        self.pg.init()
        self.redis.start()
        self.pg.create_database(self.database)
        manage(self.env, "migrate", "--noinput")
        self.server = PlatformServer(self.env, self.var_dir / "server.log", workers)
        self.server.start()
        return self

    def api_token(self, user_id):
        """Return a new user API token of ``user_id`` (created if needed)."""
        import json

        return json.loads(manage(self.env, "user_token", user_id))["token"]

    def service_token(self, app_id, user_id=""):
        """Return a new gateway service token of ``app_id`` (bound to ``user_id``)."""
        import json

        args = ["ext", "token", app_id] + (["--user", user_id] if user_id else [])
        return json.loads(manage(self.env, *args))["token"]

    def traffic(self, **config):
        return Traffic(
            self.env, self.var_dir / "traffic.log", url=self.server.url, **config
        )

    def stop(self):
        if self.server is not None:
            self.server.stop()
        self.redis.stop()
        self.pg.destroy()
