"""Keep each isolated extension's pool of workers running, and enforce deadlines.

Every tick the supervisor, for each worker of each pool:

- **exited**: answers the calls it held with an ``infrastructure`` error (the
  caller learns at once; the call is never re-run) and starts a new one after
  a backoff that doubles while workers keep dying young;
- **past a deadline**: a call it holds ran past its deadline (plus
  DEADLINE_GRACE): its process group is SIGKILLed, the call answered with a
  ``timeout`` error, and a new worker started at once.

Calls held past their deadline by workers no supervisor here knows (another
host's) are answered the same way by :meth:`reap_orphans`, so the queue bound
never fills with the dead.
"""

import logging
import os
import secrets
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from imperal_sdk.rpc import RpcErrorCategory

from .credentials import runtime_token
from .dispatch import get_dispatch
from .host import process_alive, start_time
from .spawn import kill_group, open_sandbox, spawn_worker, worker_argv

logger = logging.getLogger(__name__)

DEADLINE_GRACE_SECONDS = 0.5
# A worker that ran this long before exiting resets its pool's backoff.
HEALTHY_AFTER_SECONDS = 10.0
ORPHAN_GRACE_SECONDS = 30.0
TICK_SECONDS = 0.2


@dataclass
class WorkerProcess:
    worker_id: str
    process: object
    started: float


@dataclass
class Pool:
    """The workers of one isolated extension."""

    app_id: str
    entry: str
    size: int
    root: str = None  # the extension's directory (its workers' cwd)
    sandbox: object = None  # its workers' Sandbox, opened at the first start
    workers: dict = field(default_factory=dict)
    # Workers gone, by id -> until when their claims are still failed: a claim
    # the gateway was long-polling for a worker when it died lands after it.
    departed: dict = field(default_factory=dict)
    backoff: float = 0.0
    next_start: float = 0.0
    restarts: int = 0


class Supervisor:
    """Pools of workers for ``extensions`` ([(app_id, entry)]); ``clock`` is monotonic."""

    tick_seconds = TICK_SECONDS
    deadline_grace = DEADLINE_GRACE_SECONDS

    def __init__(
        self,
        extensions,
        *,
        gateway_url=None,
        size=None,
        dispatch=None,
        log_dir=None,
        clock=time.monotonic,
    ):
        options = settings.IMPERAL_RUNTIME
        self.gateway_url = gateway_url or options["GATEWAY_URL"] or settings.PUBLIC_URL
        self.dispatch = dispatch or get_dispatch()
        self.clock = clock
        self.log_dir = log_dir
        self.backoff_min = options["BACKOFF_MIN"]
        self.backoff_max = options["BACKOFF_MAX"]
        self.pools = [
            Pool(app_id, entry, size or options["POOL_SIZE"], *root)
            for app_id, entry, *root in extensions
        ]
        # A claim long-polls CLAIM_WAIT s; the gateway may finish one after its worker died.
        self.departed_watch = options["CLAIM_WAIT"] + 5.0
        self.stopping = False
        self._host = socket.gethostname()[:40]

    # --- one pass ---

    def tick(self):
        """Reap, kill overdue and (re)start workers in every pool; return None."""
        now = self.clock()
        for pool in self.pools:
            for worker in list(pool.workers.values()):
                self._check(pool, worker)
            self._fail_departed(pool, now)
            while len(pool.workers) < pool.size and now >= pool.next_start:
                self._start(pool)

    def _check(self, pool, worker):
        status = worker.process.poll()
        if status is not None:
            self._depart(pool, worker.worker_id)
            failed = self.dispatch.fail_claims(
                pool.app_id,
                worker.worker_id,
                RpcErrorCategory.INFRASTRUCTURE.value,
                f"worker {worker.worker_id} exited with status {status}",
            )
            logger.warning(
                "%s worker %s exited (%s); %d call(s) failed",
                pool.app_id,
                worker.worker_id,
                status,
                failed,
            )
            self._back_off(pool, self.clock() - worker.started)
            return
        now_ns = time.time_ns()
        overdue = [
            request
            for request in self.dispatch.claims(pool.app_id, worker.worker_id)
            if now_ns > request.deadline_ns + self.deadline_grace * 1e9
        ]
        if overdue:
            kill_group(worker.process)
            self._depart(pool, worker.worker_id)
            self.dispatch.fail_claims(
                pool.app_id,
                worker.worker_id,
                RpcErrorCategory.TIMEOUT.value,
                f"{overdue[0].app_id}.{overdue[0].function} ran past its deadline; "
                f"worker {worker.worker_id} was killed",
            )
            logger.warning(
                "%s worker %s killed at a call's deadline",
                pool.app_id,
                worker.worker_id,
            )

    def _depart(self, pool, worker_id):
        del pool.workers[worker_id]
        pool.departed[worker_id] = self.clock() + self.departed_watch

    def _fail_departed(self, pool, now):
        for worker_id, until in list(pool.departed.items()):
            self.dispatch.fail_claims(
                pool.app_id,
                worker_id,
                RpcErrorCategory.INFRASTRUCTURE.value,
                f"worker {worker_id} was gone when the call reached it",
            )
            if now > until:
                del pool.departed[worker_id]

    def _back_off(self, pool, lived):
        pool.restarts += 1
        if lived >= HEALTHY_AFTER_SECONDS:
            pool.backoff = 0.0
        else:
            pool.backoff = min(
                self.backoff_max, max(self.backoff_min, pool.backoff * 2)
            )
        pool.next_start = self.clock() + pool.backoff

    def _start(self, pool):
        worker_id = f"{self._host}.{os.getpid()}.{secrets.token_hex(4)}"
        entry = worker_entry(pool.entry)
        if pool.sandbox is None:
            pool.sandbox = open_sandbox(
                pool.app_id,
                pool.root,
                self.gateway_url,
                module_entry=entry["BASE"] == str(settings.BASE_DIR),
            )
        variables = {
            "APP": pool.app_id,
            **entry,
            "GATEWAY": self.gateway_url,
            "TOKEN": runtime_token(pool.app_id),
            "ID": worker_id,
            "WAIT": settings.IMPERAL_RUNTIME["CLAIM_WAIT"],
            "CONCURRENCY": settings.IMPERAL_RUNTIME["CONCURRENCY"],
        }
        process = spawn_worker(
            pool.sandbox, worker_argv(), variables, log=self._log(pool)
        )
        pool.workers[worker_id] = WorkerProcess(worker_id, process, self.clock())
        logger.info(
            "%s worker %s started (pid %s)", pool.app_id, worker_id, process.pid
        )

    def _log(self, pool):
        if self.log_dir is None:
            return None
        return open(os.path.join(self.log_dir, f"worker-{pool.app_id}.log"), "ab")  # noqa: SIM115

    def reap_orphans(self):
        """Answer calls held long past their deadline by workers not of this process."""
        return sum(
            self.dispatch.reap_expired(pool.app_id, ORPHAN_GRACE_SECONDS)
            for pool in self.pools
        )

    # --- the loop ---

    def run(self, until=None, parent=None):
        """Tick until stop() (or ``until()`` is true, or process ``parent`` is gone)."""
        parent = WatchedProcess(parent) if parent is not None else None
        last_reap = 0.0
        try:
            while not self.stopping and not (until and until()):
                self.tick()
                if self.clock() - last_reap > ORPHAN_GRACE_SECONDS:
                    self.reap_orphans()
                    last_reap = self.clock()
                if parent is not None and not parent.alive():
                    break
                time.sleep(self.tick_seconds)
        finally:
            self.shutdown()

    def stop(self, *args):
        self.stopping = True

    def shutdown(self, grace=5.0):
        """SIGTERM every worker, SIGKILL those still running after ``grace`` s."""
        workers = [w for pool in self.pools for w in pool.workers.values()]
        for worker in workers:
            try:
                os.killpg(worker.process.pid, 15)
            except ProcessLookupError:
                pass
        until = time.monotonic() + grace
        for worker in workers:
            try:
                worker.process.wait(max(0.0, until - time.monotonic()))
            except subprocess.TimeoutExpired:
                kill_group(worker.process)
        for pool in self.pools:
            for worker in pool.workers.values():
                self.dispatch.fail_claims(
                    pool.app_id,
                    worker.worker_id,
                    RpcErrorCategory.INFRASTRUCTURE.value,
                    f"worker {worker.worker_id} stopped with its supervisor",
                )
            pool.workers.clear()
            if pool.sandbox is not None:
                pool.sandbox.close()
                pool.sandbox = None


class WatchedProcess:
    """A process known by its pid and its start time, so that another process given
    the same pid after it exits is never taken for it."""

    def __init__(self, pid):
        self.pid = pid
        self.started = start_time(pid)

    def alive(self):
        """Return whether the watched process still runs."""
        return process_alive(self.pid) and start_time(self.pid) == self.started


def worker_entry(entry):
    """Return the ENTRY and BASE a worker loads ``entry`` with.

    A directory entry is passed as its absolute path and keeps the checkout off
    the worker's path; a module path is found from the checkout (BASE), which
    that puts on its path: ship extensions you do not trust as directories.
    """
    path = Path(entry)
    if not path.is_absolute():
        path = Path(settings.BASE_DIR) / path
    if "/" in entry or path.is_dir():
        directory = str(path.resolve())
        return {"ENTRY": directory, "BASE": directory}
    return {"ENTRY": entry, "BASE": str(settings.BASE_DIR)}
