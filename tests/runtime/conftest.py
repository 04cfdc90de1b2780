"""Fixtures of the runtime suite: a dispatch per backend, and live servers with workers."""

import json
import os
import uuid

import pytest
import redis
from django.conf import settings

from apps.runtime.dispatch import get_dispatch, local
from apps.runtime.dispatch import redis as redis_dispatch
from apps.runtime.worker.envelope import Identity, Invocation
from tests.compat.server import LiveServer

APP = "runtime-probe"
ENTRY = "tests.fixtures.extensions.runtime_probe"
DISPATCHES = [
    pytest.param("local", id="local"),
    pytest.param("redis", id="redis", marks=pytest.mark.redis),
]


@pytest.fixture(params=DISPATCHES)
def dispatch(request, transactional_db):
    """A dispatch of each backend; a Redis one under a prefix of its own, removed after."""
    if request.param == "local":
        yield local.Dispatch()
        return
    prefix = f"test-runtime-{uuid.uuid4().hex[:8]}"
    yield redis_dispatch.Dispatch(prefix=prefix)
    client = redis.Redis.from_url(settings.REDIS_URL)
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)


def invocation(name="remember", timeout=5.0, app_id=APP, **kwargs):
    """Return an Invocation of ``name`` as alice."""
    return Invocation(
        app_id=app_id,
        kind="tool",
        name=name,
        identity=Identity(user_id="alice", tenant_id="default"),
        kwargs=kwargs,
        timeout=timeout,
        label=f"{app_id}.{name}",
    )


@pytest.fixture(scope="module")
def isolated_server(django_db_setup, django_db_blocker, tmp_path_factory):
    """The production server (scripts/serve.sh) with the probe isolated: its
    supervisor runs two workers, which reach it through its gateway."""
    live = LiveServer(
        tmp_path_factory.mktemp("runtime"),
        extensions=ENTRY,
        env={
            "IMPERAL_EXTENSION_RUNTIME": json.dumps({APP: "isolated"}),
            "IMPERAL_EXTENSION_ENV": json.dumps(
                {APP: {"NOTES_API_URL": "https://notes.example"}}
            ),
            "IMPERAL_RUNTIME_POOL_SIZE": "2",
            "IMPERAL_RUNTIME_BACKOFF_MIN": "0.2",
            "IMPERAL_RUNTIME_CLAIM_WAIT": "1",
        },
    )
    live.start()
    yield live
    live.stop()


@pytest.fixture
def runtime(request, settings, use_extensions):
    """Return "in-process" or "isolated" (the test's parameter), set for the probe."""
    name = request.param
    settings.IMPERAL_EXTENSION_RUNTIME = {APP: name}
    settings.IMPERAL_HANDLER_TIMEOUTS = {APP: 15}
    settings.IMPERAL_EXTENSION_ENV = {APP: {"NOTES_API_URL": "https://notes.example"}}
    use_extensions(ENTRY)
    if name == "isolated":
        request.getfixturevalue("isolated_server")
    return name


def worker_pids(server):
    """Return the host pids of the server's worker processes (its supervisor's)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                cmdline = handle.read().split(b"\0")
        except OSError:
            continue
        if b"apps.runtime.worker" in cmdline[:4] and _in_server(server, int(entry)):
            pids.append(int(entry))
    return sorted(pids)


def host_pid(server, identity):
    """Return the host pid of the worker whose handler reported ``identity``
    ({"pid", "pid_ns"}: its pid in its own PID namespace, and that namespace)."""
    for pid in worker_pids(server):
        try:
            namespace = os.readlink(f"/proc/{pid}/ns/pid")
            with open(f"/proc/{pid}/status") as handle:
                status = dict(line.split(":", 1) for line in handle if ":" in line)
        except OSError:
            continue
        own_pid = int(status["NSpid"].split()[-1])
        if (namespace, own_pid) == (identity["pid_ns"], identity["pid"]):
            return pid
    raise LookupError(f"no worker of the server reported {identity}")


def _stat_of(pid):
    with open(f"/proc/{pid}/stat") as handle:
        return handle.read().rsplit(")", 1)[1].split()


def _in_server(server, pid, depth=4):
    # A worker is the server's when an ancestor (its supervisor; in a PID namespace
    # the namespace's init and unshare come between) is in the server's session.
    try:
        for _ in range(depth):
            pid = int(_stat_of(pid)[1])
            if int(_stat_of(pid)[3]) == server.process.pid:
                return True
    except (OSError, ValueError, IndexError):
        return False
    return False


def forget_calls(app_id):
    """Remove what a test left queued for ``app_id`` (Redis keeps it between tests;
    the table is emptied with the test's database)."""
    if not settings.REDIS_URL:
        return
    dispatch = get_dispatch()
    if hasattr(dispatch, "client"):
        dispatch.client.delete(f"{dispatch.prefix}:{app_id}")
