"""A worker runs up to its ``concurrency`` calls at once, replies to each, and
lets the running ones finish when it stops. The dispatch is the worker's edge
to the network: a fake one hands out requests and collects the replies."""

import asyncio
import threading
import time

import pytest
from imperal_sdk import Extension

from apps.runtime.worker.envelope import Identity, Invocation, outcome_of
from apps.runtime.worker.gateway import DispatchGone
from apps.runtime.worker.loop import Worker

APP = "concurrency-probe"


def probe_extension(log):
    ext = Extension(APP, version="1.0.0", description="runs side by side")

    @ext.tool("nap", description="Sleep `seconds`, logging start and end.")
    async def nap(ctx, label: str, seconds: float = 0.3) -> dict:
        log.append(("start", label, time.monotonic()))
        await asyncio.sleep(seconds)
        log.append(("end", label, time.monotonic()))
        return {"label": label}

    return ext


class FakeDispatch:
    """Hands out ``requests`` one per claim, then None; stops ``worker`` once
    every request has a reply. ``gone_on_reply`` raises DispatchGone there."""

    worker_id = "w-test"

    def __init__(self, requests, gone_on_reply=False):
        self.requests = list(requests)
        self.replies = []
        self.gone_on_reply = gone_on_reply
        self.worker = None
        self.expected = len(self.requests)
        self.lock = threading.Lock()

    def claim(self):
        with self.lock:
            if self.requests:
                return self.requests.pop(0)
        time.sleep(0.01)
        return None

    def reply(self, reply):
        if self.gone_on_reply:
            raise DispatchGone("gateway went away")
        with self.lock:
            self.replies.append(reply)
            if len(self.replies) == self.expected:
                self.worker.stop()
        return True


def request(label):
    return Invocation(
        app_id=APP,
        kind="tool",
        name="nap",
        identity=Identity(user_id="alice", tenant_id="default"),
        kwargs={"label": label},
        timeout=10,
    ).to_request("")


def run(labels, concurrency, **fake):
    log = []
    dispatch = FakeDispatch([request(label) for label in labels], **fake)
    worker = Worker(probe_extension(log), dispatch, "http://gateway.test", concurrency)
    dispatch.worker = worker
    worker.run_forever()
    return log, dispatch


def overlapped(log):
    """Return whether some call started before another one ended."""
    first_end = min(at for kind, _, at in log if kind == "end")
    return sum(1 for kind, _, at in log if kind == "start" and at < first_end) > 1


def test_a_worker_runs_two_calls_at_once():
    log, dispatch = run(["a", "b"], concurrency=2)
    assert overlapped(log)
    results = sorted(outcome_of(reply).result["label"] for reply in dispatch.replies)
    assert results == ["a", "b"]


def test_a_worker_of_concurrency_one_runs_its_calls_one_after_the_other():
    log, dispatch = run(["a", "b"], concurrency=1)
    assert not overlapped(log)
    assert [kind for kind, _, _ in log] == ["start", "end", "start", "end"]
    assert len(dispatch.replies) == 2


def test_a_worker_never_runs_more_than_its_concurrency():
    log, dispatch = run(["a", "b", "c", "d", "e"], concurrency=2)
    running, most = 0, 0
    for kind, _, _ in sorted(log, key=lambda entry: entry[2]):
        running += 1 if kind == "start" else -1
        most = max(most, running)
    assert most == 2
    assert len(dispatch.replies) == 5


def test_a_gateway_gone_at_a_reply_ends_the_worker_with_dispatch_gone():
    with pytest.raises(DispatchGone, match="went away"):
        run(["a"], concurrency=2, gone_on_reply=True)


@pytest.mark.parametrize("concurrency", [0, -1, 1.5, "2"])
def test_a_concurrency_below_one_or_not_an_integer_is_refused(concurrency):
    with pytest.raises(ValueError, match="concurrency must be an integer from 1"):
        Worker(
            probe_extension([]), FakeDispatch([]), "http://gateway.test", concurrency
        )
