"""Faults of isolated workers: killed mid-call, never answering, flooded, exiting."""

import os
import signal
import threading
import time

import pytest
from asgiref.sync import async_to_sync

from apps.extensions.errors import HandlerTimeout
from apps.extensions.invocation import prepare_tool
from apps.extensions.runtimes import WorkerLost
from apps.store.models import Document

from .conftest import APP, host_pid, worker_pids

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
ISOLATED = pytest.mark.parametrize("runtime", ["isolated"], indirect=True)


def call(name, params=None, user="alice"):
    return async_to_sync(prepare_tool(APP, name, user, params).run)()


def effects():
    return Document.objects.in_partition("default", APP, "alice").filter(
        collection="effects"
    )


def wait_for(predicate, timeout=20.0):
    until = time.monotonic() + timeout
    while time.monotonic() < until:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def in_background(function):
    outcome = {}

    def target():
        try:
            outcome["result"] = function()
        except Exception as exc:  # the assertion reads it
            outcome["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    return thread, outcome


@ISOLATED
def test_a_worker_killed_mid_call_fails_the_call_once_and_is_replaced(
    runtime, alice, isolated_server
):
    thread, outcome = in_background(lambda: call("effect_then_sleep", {"seconds": 600}))
    victim = host_pid(isolated_server, wait_for(lambda: effects().first()).data)
    started = time.monotonic()
    os.kill(victim, signal.SIGKILL)
    thread.join(30)
    assert isinstance(outcome.get("error"), WorkerLost), outcome
    assert "was not re-run" in str(outcome["error"])
    assert time.monotonic() - started < 5  # told at once, not at the deadline
    assert effects().count() == 1  # the effect happened once, never again
    time.sleep(1)
    assert effects().count() == 1
    assert host_pid(isolated_server, call("pid")) != victim
    wait_for(lambda: len(worker_pids(isolated_server)) == 2)


@ISOLATED
@pytest.mark.parametrize("tool", ["spin", "effect_then_sleep"])
def test_a_handler_that_never_returns_ends_at_the_deadline(
    runtime, tool, alice, settings, isolated_server
):
    settings.IMPERAL_HANDLER_TIMEOUTS = {APP: 2}
    before = set(worker_pids(isolated_server))
    started = time.monotonic()
    with pytest.raises(HandlerTimeout):
        call(tool, {"seconds": 600} if tool != "spin" else None)
    assert time.monotonic() - started < 4
    # Its worker is killed and replaced; the next call works.
    wait_for(lambda: len(set(worker_pids(isolated_server)) - before) >= 1)
    settings.IMPERAL_HANDLER_TIMEOUTS = {APP: 15}
    assert "pid" in call("pid")
    wait_for(lambda: len(worker_pids(isolated_server)) == 2)


@ISOLATED
def test_the_supervisor_restarts_a_worker_that_exits(runtime, alice, isolated_server):
    pids = wait_for(lambda: worker_pids(isolated_server))
    os.kill(pids[0], signal.SIGKILL)
    wait_for(
        lambda: (
            len(worker_pids(isolated_server)) == 2
            and pids[0] not in worker_pids(isolated_server)
        )
    )
    # A claim the gateway was long-polling for the dead worker (CLAIM_WAIT, 1 s)
    # is failed by the supervisor, not run; past it, calls reach the live ones.
    time.sleep(1.5)
    assert "pid" in call("pid")
