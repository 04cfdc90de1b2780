"""The workers' supervisor lives as long as the process it watches (serve.sh's web
server, or its parent) — and no longer, even when that pid is given to another
process afterwards, as it is once pids wrap around on a busy host."""

import os
import subprocess
import sys
import time

from django.conf import settings

from apps.runtime.host import process_alive
from apps.runtime.supervisor import WatchedProcess


def test_an_exited_process_is_not_alive_before_or_after_it_is_reaped():
    sleeper = subprocess.Popen(["sleep", "30"])
    assert process_alive(sleeper.pid)

    sleeper.kill()
    deadline = time.monotonic() + 10
    while process_alive(sleeper.pid) and time.monotonic() < deadline:
        time.sleep(0.01)

    assert not process_alive(sleeper.pid)  # a zombie until wait() below
    sleeper.wait()
    assert not process_alive(sleeper.pid)


def test_a_watched_process_is_alive_until_it_exits():
    sleeper = subprocess.Popen(["sleep", "30"])
    watched = WatchedProcess(sleeper.pid)
    assert watched.alive()

    sleeper.kill()
    sleeper.wait()

    assert not watched.alive()


def test_another_process_with_the_watched_pid_is_not_the_watched_one():
    watched = WatchedProcess(os.getpid())
    assert watched.alive()

    watched.started -= 1  # what a process started earlier under this pid would show

    assert not watched.alive()


def test_run_workers_stops_when_the_process_it_watches_exits(tmp_path):
    sleeper = subprocess.Popen(["sleep", "60"])
    env = {
        **os.environ,
        "IMPERAL_VAR_DIR": str(tmp_path),
        "IMPERAL_EXTENSIONS": "",
        "DJANGO_SETTINGS_MODULE": "imperal_platform.settings",
    }
    command = [sys.executable, "manage.py", "run_workers", "--exit-with"]
    supervisor = subprocess.Popen(
        [*command, str(sleeper.pid)],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        first = supervisor.stdout.readline()
        assert b"nothing to run" in first, supervisor.stderr.read()
        assert supervisor.poll() is None  # it waits while the watched process runs

        sleeper.kill()
        sleeper.wait()
        started = time.monotonic()
        supervisor.wait(timeout=15)

        assert supervisor.returncode == 0
        assert time.monotonic() - started < 10
    finally:
        for process in (sleeper, supervisor):
            if process.poll() is None:
                process.kill()
                process.wait()
