"""Start one worker process: the one place a worker's process is made.

Every worker is launched through its extension's :class:`~apps.runtime.sandbox.Sandbox`
(opened once per extension): an empty environment plus the operator's variables
for that extension (IMPERAL_EXTENSION_ENV[app]) and the runtime's own
IMPERAL_WORKER_* variables — never SECRET_KEY, DATABASE_URL, REDIS_URL or another
extension's settings — OS limits, a session of its own (the supervisor kills its
whole process group at a deadline), its extension's directory as working
directory, only the worker package on its path, and what else the host allows
(its own uid, the platform's files hidden, a network namespace):
docs/operators/sandbox.md.
"""

import os
import subprocess
import sys

from django.conf import settings

from .sandbox import Sandbox
from .sandbox_settings import extension_env

WORKER_MODULE = "apps.runtime.worker"


def worker_argv():
    """Return the command line of a worker process."""
    return [sys.executable, "-m", WORKER_MODULE]


def worker_variables(runtime_vars):
    """Return the IMPERAL_WORKER_* variables of ``runtime_vars`` (named without it)."""
    return {f"IMPERAL_WORKER_{key}": str(value) for key, value in runtime_vars.items()}


def open_sandbox(app_id, directory, gateway_url, module_entry):
    """Return the opened Sandbox of ``app_id``'s workers.

    A module-path entry is imported from the checkout, which is then on its
    workers' path (read-only); a directory entry keeps the checkout off it.
    """
    python_path = (str(settings.BASE_DIR),) if module_entry else ()
    return Sandbox(
        app_id, directory or settings.BASE_DIR, gateway_url, python_path=python_path
    ).open()


def spawn_worker(sandbox, argv, runtime_vars, log=None):
    """Start ``argv`` as a worker in ``sandbox``; return the Popen."""
    launch = sandbox.launch(argv, worker_variables(runtime_vars))
    return subprocess.Popen(  # noqa: S603 (argv is ours)
        **launch.popen_kwargs(),
        stdin=subprocess.DEVNULL,
        stdout=log if log is not None else subprocess.DEVNULL,
        stderr=subprocess.STDOUT if log is not None else subprocess.DEVNULL,
    )


def remote_environment(app_id, runtime_vars):
    """Return the environment a worker on another host needs (no PYTHONPATH: that
    host's own layout)."""
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
    env.update(extension_env(app_id))
    env.update(worker_variables(runtime_vars))
    return env


def kill_group(process):
    """SIGKILL ``process`` and its process group; return its exit status."""
    try:
        os.killpg(process.pid, 9)
    except ProcessLookupError:
        pass
    return process.wait()
