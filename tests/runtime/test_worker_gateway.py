"""The worker's dispatch client rides out a transient gateway failure and gives
up, with exit status 4's DispatchGone, only once the gateway stays away."""

import httpx
import pytest
from imperal_sdk.rpc import RpcReply, RpcStatus

from apps.runtime.worker.gateway import DispatchGone, GatewayDispatch


class Clock:
    """A clock the dispatch sleeps on: sleeping advances it, nothing waits."""

    def __init__(self):
        self.now = 0.0
        self.slept = []

    def time(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


def dispatch_failing(times, clock, error=httpx.RemoteProtocolError):
    """A GatewayDispatch whose first ``times`` requests fail in transport."""
    seen = []

    def answer(request):
        seen.append(request.url.path)
        if len(seen) <= times:
            raise error("Server disconnected without sending a response.")
        return httpx.Response(200, json={"ok": True})

    client = httpx.Client(transport=httpx.MockTransport(answer))
    dispatch = GatewayDispatch("http://gateway.test", "t", "w1", client=client)
    dispatch.clock, dispatch.sleep = clock.time, clock.sleep
    return dispatch, seen


def a_reply():
    return RpcReply(
        corr_id="c" * 32,
        status=RpcStatus.SUCCESS,
        result={"n": 1},
        worker_id="w1",
        started_at_ns=1,
        finished_at_ns=2,
    )


def test_a_reply_is_delivered_after_the_server_dropped_the_connection():
    clock = Clock()
    dispatch, seen = dispatch_failing(2, clock)
    assert dispatch.reply(a_reply()) is True
    assert seen == ["/v1/runtime/reply"] * 3
    assert clock.slept == [0.05, 0.1]


def test_the_gateway_away_longer_than_gone_after_ends_the_worker():
    clock = Clock()
    dispatch, seen = dispatch_failing(10_000, clock, httpx.ConnectError)
    with pytest.raises(DispatchGone, match=r"unreachable for 30 s: ConnectError"):
        dispatch.claim()
    assert clock.now <= dispatch.gone_after
    assert max(clock.slept) == dispatch.max_pause
    assert len(seen) == len(clock.slept) + 1


def test_a_refused_token_ends_the_worker_at_once():
    client = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(401)))
    dispatch = GatewayDispatch("http://gateway.test", "t", "w1", client=client)
    with pytest.raises(DispatchGone, match=r"refused the runtime token \(401\)"):
        dispatch.claim()
