"""Start one worker process: the one place a worker's process and environment are made.

A worker starts from an empty environment: a minimal PATH/LANG/HOME, the
operator's variables for that extension (IMPERAL_EXTENSION_ENV[app]) and the
runtime's own IMPERAL_WORKER_* variables — never SECRET_KEY, DATABASE_URL,
REDIS_URL or another extension's settings. It runs in a session of its own
(the supervisor kills its whole process group at a deadline).

Confinement (its own uid, rlimits, a network namespace) is added by the
callable IMPERAL_RUNTIME["CONFINE"] names, when set: ``confine(app_id, env,
kwargs) -> kwargs`` receives the Popen keyword arguments built here and
returns those to use.
"""

import functools
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from django.conf import settings
from django.utils.module_loading import import_string

BASE_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "HOME": "/nonexistent",
}
WORKER_MODULE = "apps.runtime.worker"


def worker_argv():
    """Return the command line of a worker process."""
    return [sys.executable, "-m", WORKER_MODULE]


def worker_environment(app_id, runtime_vars):
    """Return a worker's whole environment: BASE_ENV, the extension's own
    variables (IMPERAL_EXTENSION_ENV[app_id]) and ``runtime_vars`` (the
    IMPERAL_WORKER_* ones, named without the prefix)."""
    env = dict(BASE_ENV)
    env.update(settings.IMPERAL_EXTENSION_ENV.get(app_id, {}))
    # apps.runtime.worker, and nothing else of the platform, is importable.
    env["PYTHONPATH"] = str(worker_pythonpath())
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(
        {f"IMPERAL_WORKER_{key}": str(value) for key, value in runtime_vars.items()}
    )
    return env


@functools.cache
def worker_pythonpath():
    """Return a directory holding a copy of the worker package alone (``apps/runtime/
    worker``), made once per process: a worker's PYTHONPATH, so the checkout is not."""
    root = Path(tempfile.mkdtemp(prefix="imperal-worker-"))
    package = root / "apps" / "runtime"
    shutil.copytree(
        Path(__file__).resolve().parent / "worker",
        package / "worker",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    for init in (root / "apps" / "__init__.py", package / "__init__.py"):
        init.write_text("")
    for directory in (root, root / "apps", package, package / "worker"):
        directory.chmod(0o755)
    return root


def spawn_worker(argv, app_id, env, log=None, cwd=None):
    """Start ``argv`` as a worker of ``app_id`` with exactly ``env``, in ``cwd`` (the
    extension's directory); return the Popen."""
    kwargs = {
        "env": env,
        "cwd": str(cwd or settings.BASE_DIR),
        "stdin": subprocess.DEVNULL,
        "stdout": log if log is not None else subprocess.DEVNULL,
        "stderr": subprocess.STDOUT if log is not None else subprocess.DEVNULL,
        "close_fds": True,
        "start_new_session": True,
    }
    confine = settings.IMPERAL_RUNTIME.get("CONFINE")
    if confine:
        kwargs = import_string(confine)(app_id, env, kwargs)
    return subprocess.Popen(argv, **kwargs)  # noqa: S603 (argv is ours)


def kill_group(process):
    """SIGKILL ``process`` and its process group; return its exit status."""
    try:
        os.killpg(process.pid, 9)
    except ProcessLookupError:
        pass
    return process.wait()
