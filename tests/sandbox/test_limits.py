"""The OS limits hold in a sandboxed worker: a memory hog and a CPU spin die, files
and processes are bounded — with every confinement, and in minimal mode too."""

import os
import signal
import subprocess
import sys
import time

import pytest

from apps.runtime.host import process_alive
from apps.runtime.sandbox import MINIMAL, Sandbox

from .conftest import HOSTILE_DIR, needs_user, run_program

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
SMALL = {
    "MEMORY_BYTES": 256 << 20,
    "CPU_SECONDS": 1,
    "OPEN_FILES": 32,
    "PROCESSES": 16,
}


@pytest.fixture(params=["auto", MINIMAL])
def sandbox(request, app_id, gateway, settings):
    settings.IMPERAL_SANDBOX = {**settings.IMPERAL_SANDBOX, **SMALL}
    settings.IMPERAL_SANDBOX["MODE"] = request.param
    with Sandbox(app_id, HOSTILE_DIR, gateway.url("")) as box:
        yield box


def test_a_memory_hog_dies_at_the_address_space_limit(sandbox):
    process = run_program(sandbox, "hog = bytearray(1 << 30)\nprint('allocated')")
    assert process.returncode == 1
    assert "MemoryError" in process.stderr
    assert "allocated" not in process.stdout


def test_a_cpu_spin_dies_at_the_cpu_limit(sandbox):
    started = time.monotonic()
    process = run_program(sandbox, "while True: pass", timeout=30)
    # The worker dies of SIGXCPU (or the hard limit's SIGKILL); in a PID namespace
    # its init, a sh, reports that as 128 + the signal.
    deaths = (signal.SIGXCPU, signal.SIGKILL)
    if sandbox.in_force("files"):
        assert process.returncode in [128 + death for death in deaths]
    else:
        assert process.returncode in [-death for death in deaths]
    assert time.monotonic() - started < 15


def test_open_files_stop_at_the_limit(sandbox):
    code = (
        "import os\nfds = []\n"
        "try:\n    while True: fds.append(os.open('/dev/null', os.O_RDONLY))\n"
        "except OSError as exc: print(len(fds), exc.errno)"
    )
    process = run_program(sandbox, code)
    opened, errno = process.stdout.split()
    assert int(opened) < 32 and errno == "24"  # EMFILE


def test_no_core_dumps(sandbox):
    process = run_program(
        sandbox, "import resource; print(resource.getrlimit(resource.RLIMIT_CORE))"
    )
    assert process.stdout.strip() == "(0, 0)"


@pytest.fixture
def own_user_sandbox(app_id, gateway, settings):
    settings.IMPERAL_SANDBOX = {**settings.IMPERAL_SANDBOX, **SMALL, **ROOMY}
    with Sandbox(app_id, HOSTILE_DIR, gateway.url("")) as box:
        yield box


# Thread stacks and malloc arenas take address space: enough that only
# RLIMIT_NPROC can stop a hundred threads.
ROOMY = {"MEMORY_BYTES": 8 << 30}
THREADS = (
    "import threading\nstop = threading.Event()\nstarted = 0\n"
    "try:\n"
    "    while started < 100:\n"
    "        threading.Thread(target=stop.wait, daemon=True).start(); started += 1\n"
    "except RuntimeError as exc: print(started, exc)\n"
    "else: print(started)\n"
    "stop.set()"
)


@needs_user
def test_threads_and_processes_of_the_extension_user_stop_at_the_limit(
    own_user_sandbox,
):
    process = run_program(own_user_sandbox, THREADS)
    assert int(process.stdout.split()[0]) < 16, process.stdout
    assert "can't start new thread" in process.stdout


def test_minimal_mode_leaves_processes_unbounded_as_it_says(app_id, gateway, settings):
    """RLIMIT_NPROC counts every process of a uid: on the platform's own uid it would
    starve the platform, so minimal mode does not set it, and says so."""
    settings.IMPERAL_SANDBOX = {
        **settings.IMPERAL_SANDBOX,
        **SMALL,
        **ROOMY,
        "MODE": MINIMAL,
    }
    with Sandbox(app_id, HOSTILE_DIR, gateway.url("")) as box:
        limits = next(c for c in box.confinements() if c.name == "limits")
        assert "RLIMIT_NPROC" not in limits.detail
        process = run_program(box, THREADS)
    assert process.stdout.split() == ["100"]


def group_of(pgid):
    """Return the host pids in process group ``pgid``."""
    members = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid:
            members.append(int(entry))
    return members


def test_killing_the_started_process_group_ends_the_worker(sandbox):
    """The started process leads a group holding the whole chain: killpg(pid) at a
    deadline ends it all. Every step execs, but for a PID namespace's: there
    unshare forks the namespace's init, which runs the worker."""
    code = "import os, time\nprint(os.getpid(), flush=True)\ntime.sleep(60)"
    launch = sandbox.launch([sys.executable, "-c", code], {})
    process = subprocess.Popen(
        **launch.popen_kwargs(), stdout=subprocess.PIPE, text=True
    )
    try:
        own_pid = int(process.stdout.readline())
        members = group_of(process.pid)
        if sandbox.in_force("files"):
            assert own_pid != 1  # not its namespace's init
            assert len(members) == 3  # unshare, the namespace's init, the worker
        else:
            assert members == [own_pid] == [process.pid]
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        process.kill()
        process.stdout.close()
    deadline = time.monotonic() + 10  # the rest die as the signal reaches them
    while any(process_alive(pid) for pid in members) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in members if process_alive(pid)]
