"""The dispatch contract (apps/runtime/dispatch/base.py), on the table and on Redis."""

import time

import pytest
from imperal_sdk.rpc import RpcErrorCategory, RpcStatus

from apps.runtime.dispatch.base import RuntimeBusy
from apps.runtime.worker.envelope import SUCCESS, Outcome, outcome_of

from .conftest import invocation


def submitted(dispatch, timeout=5.0, bound=8, **kwargs):
    request = invocation(timeout=timeout, **kwargs).to_request("token")
    dispatch.submit(request, bound, 1)
    return request


def answer_for(request, worker_id, value):
    return Outcome(SUCCESS, value).to_reply(request.corr_id, worker_id, time.time_ns())


def test_a_claimed_call_is_answered_to_its_caller(dispatch):
    request = submitted(dispatch, title="x")
    claimed = dispatch.claim(request.app_id, "w1", 1)
    assert claimed == request
    assert dispatch.claims(request.app_id, "w1") == [request]
    assert dispatch.answer(request.app_id, "w1", answer_for(request, "w1", {"ok": 1}))
    reply = dispatch.wait(request, 1)
    assert outcome_of(reply).result == {"ok": 1}
    assert dispatch.pending(request.app_id) == 0
    assert dispatch.claims(request.app_id, "w1") == []


def test_a_call_goes_to_one_worker_only(dispatch):
    request = submitted(dispatch)
    assert dispatch.claim(request.app_id, "w1", 1) == request
    assert dispatch.claim(request.app_id, "w2", 0.2) is None
    # Nor may another worker answer it.
    assert not dispatch.answer(request.app_id, "w2", answer_for(request, "w2", 1))
    assert dispatch.wait(request, 0.1) is None


def test_a_worker_whose_id_begins_the_holders_cannot_answer(dispatch):
    request = submitted(dispatch)
    dispatch.claim(request.app_id, "w10", 1)
    assert not dispatch.answer(request.app_id, "w1", answer_for(request, "w1", 1))
    assert dispatch.claims(request.app_id, "w10") == [request]
    assert dispatch.answer(request.app_id, "w10", answer_for(request, "w10", 2))
    assert outcome_of(dispatch.wait(request, 1)).result == 2


def test_another_extension_cannot_answer_a_call(dispatch):
    request = submitted(dispatch)
    dispatch.claim(request.app_id, "w1", 1)
    assert not dispatch.answer("other-app", "w1", answer_for(request, "w1", 1))
    assert dispatch.wait(request, 0.1) is None
    assert dispatch.claims(request.app_id, "w1") == [request]


def test_a_call_is_answered_once(dispatch):
    request = submitted(dispatch)
    dispatch.claim(request.app_id, "w1", 1)
    assert dispatch.answer(request.app_id, "w1", answer_for(request, "w1", 1))
    assert not dispatch.answer(request.app_id, "w1", answer_for(request, "w1", 2))
    assert outcome_of(dispatch.wait(request, 1)).result == 1


def test_the_bound_refuses_one_more_call_and_queues_nothing(dispatch):
    first = submitted(dispatch, bound=2)
    submitted(dispatch, bound=2)
    with pytest.raises(RuntimeBusy) as refused:
        submitted(dispatch, bound=2)
    assert refused.value.code == "runtime_busy"
    assert refused.value.retry_after == 1
    assert dispatch.pending(first.app_id) == 2


def test_a_withdrawn_call_is_never_claimed(dispatch):
    request = submitted(dispatch)
    assert dispatch.withdraw(request)
    assert dispatch.claim(request.app_id, "w1", 0.3) is None
    assert dispatch.pending(request.app_id) == 0


def test_a_claimed_call_cannot_be_withdrawn(dispatch):
    request = submitted(dispatch)
    dispatch.claim(request.app_id, "w1", 1)
    assert not dispatch.withdraw(request)
    assert dispatch.claims(request.app_id, "w1") == [request]


def test_a_call_past_its_deadline_is_answered_not_handed_out(dispatch):
    request = submitted(dispatch, timeout=0.05)
    time.sleep(0.1)
    assert dispatch.claim(request.app_id, "w1", 0.2) is None
    reply = dispatch.wait(request, 1)
    assert reply.status == RpcStatus.ERROR
    assert reply.error.category == RpcErrorCategory.TIMEOUT


def test_a_dead_workers_calls_are_failed_not_re_run(dispatch):
    request = submitted(dispatch)
    dispatch.claim(request.app_id, "w1", 1)
    failed = dispatch.fail_claims(
        request.app_id, "w1", RpcErrorCategory.INFRASTRUCTURE.value, "worker w1 exited"
    )
    assert failed == 1
    reply = dispatch.wait(request, 1)
    assert reply.error.category == RpcErrorCategory.INFRASTRUCTURE
    assert "w1 exited" in reply.error.message
    assert dispatch.claim(request.app_id, "w2", 0.2) is None
    assert dispatch.pending(request.app_id) == 0


def test_calls_held_long_past_their_deadline_are_reaped(dispatch):
    # Long enough to be claimed before it expires, however loaded the host.
    late = submitted(dispatch, timeout=1.0)
    fresh = submitted(dispatch, timeout=30)
    assert dispatch.claim(late.app_id, "gone", 1) == late
    assert dispatch.claim(late.app_id, "alive", 1) == fresh
    time.sleep(max(0.0, (late.deadline_ns - time.time_ns()) / 1e9) + 0.05)
    assert dispatch.reap_expired(late.app_id, grace=0.01) == 1
    assert dispatch.wait(late, 1).error.category == RpcErrorCategory.TIMEOUT
    assert dispatch.claims(fresh.app_id, "alive") == [fresh]
