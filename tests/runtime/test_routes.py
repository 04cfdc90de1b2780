"""The workers' gateway routes: a runtime token claims and answers its own extension's
calls only; anything else is refused in the one error shape."""

import json

import pytest
from django.core.management import call_command
from django.test import Client

from apps.runtime.credentials import (
    RuntimeTokenRejected,
    app_of_runtime_token,
    runtime_token,
)
from apps.runtime.dispatch import get_dispatch
from apps.runtime.worker.envelope import SUCCESS, Outcome, outcome_of

from .conftest import APP, ENTRY, forget_calls, invocation

pytestmark = pytest.mark.django_db(transaction=True)
OTHER = "other-app"


@pytest.fixture
def queued(settings, use_extensions):
    settings.IMPERAL_EXTENSION_RUNTIME = {APP: "isolated"}
    use_extensions(ENTRY)
    forget_calls(APP)
    dispatch = get_dispatch()
    request = invocation(timeout=30).to_request("call-token")
    dispatch.submit(request, 8, 1)
    yield request
    dispatch.withdraw(request)
    forget_calls(APP)


def post(path, body, token=None):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return Client().post(
        path, data=json.dumps(body), content_type="application/json", **headers
    )


def test_a_runtime_token_names_its_extension_and_nothing_forges_one():
    assert app_of_runtime_token(runtime_token(APP)) == APP
    forged = runtime_token(APP).replace(APP, OTHER, 1)
    for raw in (forged, "imp_r_", "imp_s_abc", runtime_token(APP) + "x"):
        with pytest.raises(RuntimeTokenRejected):
            app_of_runtime_token(raw)


def test_claiming_needs_a_runtime_token(queued):
    response = post("/v1/runtime/claim", {"worker_id": "w1", "wait": 0})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"
    forged = runtime_token(APP)[:-2] + "xx"
    assert post("/v1/runtime/claim", {"worker_id": "w1"}, forged).status_code == 401
    assert get_dispatch().pending(APP) == 1  # nothing was claimed


def test_another_extensions_token_never_gets_its_calls(queued):
    response = post(
        "/v1/runtime/claim", {"worker_id": "w1", "wait": 0}, runtime_token(OTHER)
    )
    assert response.status_code == 204
    assert get_dispatch().claims(APP, "w1") == []


def test_a_worker_claims_and_answers_its_extensions_call(queued):
    token = runtime_token(APP)
    claimed = post("/v1/runtime/claim", {"worker_id": "w1", "wait": 1}, token)
    assert claimed.status_code == 200
    assert claimed.json()["request"]["corr_id"] == queued.corr_id
    reply = Outcome(SUCCESS, {"ok": True}).to_reply(queued.corr_id, "w1", 0)
    body = {"worker_id": "w1", "reply": reply.model_dump(mode="json")}
    # Another extension's token, or another worker, cannot answer it.
    assert post("/v1/runtime/reply", body, runtime_token(OTHER)).status_code == 409
    assert (
        post("/v1/runtime/reply", {**body, "worker_id": "w2"}, token).status_code == 409
    )
    assert post("/v1/runtime/reply", body, token).status_code == 200
    assert outcome_of(get_dispatch().wait(queued, 1)).result == {"ok": True}


@pytest.mark.parametrize(
    "body, fragment",
    [
        ({"worker_id": "a b"}, "worker_id must be"),
        ({"worker_id": "w1", "wait": "soon"}, "wait must be a number"),
        (
            {"worker_id": "w1", "reply": {"corr_id": "x"}},
            "reply is not an imperal-sdk RpcReply",
        ),
    ],
)
def test_bad_input_is_a_400_naming_the_rule(queued, body, fragment):
    path = "/v1/runtime/reply" if "reply" in body else "/v1/runtime/claim"
    response = post(path, body, runtime_token(APP))
    assert response.status_code == 400
    assert fragment in response.json()["error"]["message"]
    assert get_dispatch().pending(APP) == 1


def test_run_worker_prints_what_a_remote_worker_needs_and_no_platform_secret(
    queued, capsys, settings
):
    settings.IMPERAL_EXTENSION_ENV = {APP: {"NOTES_API_URL": "https://notes.example"}}
    call_command("run_worker", APP, "--print-env", "--gateway", "https://gw.example")
    env = json.loads(capsys.readouterr().out)
    assert env["IMPERAL_WORKER_APP"] == APP
    assert env["IMPERAL_WORKER_ENTRY"] == ENTRY
    assert env["IMPERAL_WORKER_GATEWAY"] == "https://gw.example"
    assert app_of_runtime_token(env["IMPERAL_WORKER_TOKEN"]) == APP
    assert env["NOTES_API_URL"] == "https://notes.example"
    assert settings.SECRET_KEY not in json.dumps(env)
    assert not {"SECRET_KEY", "DATABASE_URL", "REDIS_URL"} & set(env)
