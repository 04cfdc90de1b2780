"""A full queue is a 503 ``runtime_busy`` with Retry-After, and nothing is queued."""

import pytest
from asgiref.sync import async_to_sync

from apps.accounts.models import ApiToken
from apps.extensions.invocation import prepare_tool
from apps.extensions.runtimes import RuntimeRefused
from apps.runtime.dispatch import get_dispatch
from apps.store.models import Document
from tests.api.conftest import Api

from .conftest import APP, ENTRY, forget_calls, invocation


@pytest.fixture
def full_queue(settings, use_extensions, db):
    settings.IMPERAL_EXTENSION_RUNTIME = {APP: "isolated"}
    settings.IMPERAL_RUNTIME = {**settings.IMPERAL_RUNTIME, "QUEUE_BOUND": 2}
    settings.IMPERAL_API_RATES = {"user": ""}
    use_extensions(ENTRY)
    forget_calls(APP)
    dispatch = get_dispatch()
    queued = [invocation(timeout=60).to_request("t") for _ in range(2)]
    for request in queued:
        dispatch.submit(request, 2, 1)
    yield dispatch
    for request in queued:
        dispatch.withdraw(request)
    forget_calls(APP)


def test_a_call_beyond_the_bound_is_503_runtime_busy_with_retry_after(
    full_queue, alice
):
    api = Api(ApiToken.issue(alice)[1])
    response = api.post(
        f"/api/v1/extensions/{APP}/tools/remember/call", {"params": {"title": "x"}}
    )
    assert response.status_code == 503, response.content
    assert response["Retry-After"] == "1"
    body = response.json()["error"]
    assert body["code"] == "runtime_busy"
    assert "QUEUE_BOUND" in body["message"]
    assert full_queue.pending(APP) == 2


@pytest.mark.django_db(transaction=True)
def test_a_call_no_worker_takes_is_withdrawn_and_never_runs(
    settings, use_extensions, alice
):
    settings.IMPERAL_EXTENSION_RUNTIME = {APP: "isolated"}
    settings.IMPERAL_HANDLER_TIMEOUTS = {APP: 0.5}
    use_extensions(ENTRY)
    call = prepare_tool(APP, "remember", "alice", {"title": "x"})
    with pytest.raises(RuntimeRefused) as refused:
        async_to_sync(call.run)()
    assert refused.value.code == "unavailable"
    assert "no worker of isolated extension 'runtime-probe' took the call" in str(
        refused.value
    )
    assert get_dispatch().pending(APP) == 0
    assert not Document.objects.filter(app_id=APP).exists()
