"""imperal-sdk 6.3.7's own SkeletonClient reads sections over
GET /v1/internal/skeleton/{app}/{user}/{section}: the value ctx.skeleton reads in
process, refreshed on demand when stale, for skeleton calls and the user's own."""

from contextlib import asynccontextmanager

import httpx
import pytest
from asgiref.sync import async_to_sync
from django.core import signals
from django.db import close_old_connections
from imperal_sdk.skeleton import client as sdk_skeleton
from imperal_sdk.skeleton.client import SkeletonClient

from apps.accounts.identity import user_context
from apps.accounts.models import SecurityEvent
from apps.extensions.context import build_context
from apps.extensions.invocation import prepare_tool
from apps.extensions.models import SkeletonSection
from apps.extensions.sync import sync_extensions
from apps.gateway.tokens import issue_token
from imperal_platform.asgi import application

from .conftest import call_token

pytestmark = pytest.mark.django_db

APP = "skeleton-probe"
GATEWAY = "http://testserver"


@pytest.fixture
def probe(use_extensions, alice, bob):
    loaded = use_extensions("tests.fixtures.extensions.skeleton_probe").get(APP)
    sync_extensions()
    async_to_sync(prepare_tool(APP, "add_message", "alice", {"subject": "hi"}).run)()
    return loaded


@pytest.fixture(autouse=True)
def sdk_over_asgi(monkeypatch):
    """The SDK's HTTP pool, pointed at this process's ASGI application (the
    network edge is the only thing replaced; the SDK says to patch this symbol)."""

    @asynccontextmanager
    async def shared_http(**kwargs):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url=GATEWAY) as http:
            yield http

    monkeypatch.setattr(sdk_skeleton, "shared_http", shared_http)
    # As Django's own test clients do: a request must not close the test's
    # connection (and with it the test's transaction).
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def client(user="alice", *, call=None, service_token=""):
    return SkeletonClient(
        gateway_url=GATEWAY,
        service_token=service_token,
        extension_id=APP,
        user_id=user,
        call_token=call or "",
    )


def get(skeleton_client, section="inbox"):
    return async_to_sync(skeleton_client.get)(section)


def skeleton_call_token(user="alice"):
    return call_token(APP, user, tool_type="skeleton")


def test_a_skeleton_call_reads_the_section_refreshed_on_demand(probe):
    value = get(client(call=skeleton_call_token()))

    assert value == {"unread": 1, "user": "alice", "tool_type": "skeleton"}
    row = SkeletonSection.objects.get(user_id="alice", section="inbox")
    assert (row.refreshes, row.value) == (1, value)
    assert get(client(call=skeleton_call_token())) == value
    assert SkeletonSection.objects.get(pk=row.pk).refreshes == 1  # fresh: not rerun


def test_the_wire_and_ctx_skeleton_read_the_same_value(probe, alice):
    over_http = get(client(call=skeleton_call_token()))
    ctx = build_context(probe.ext, user_context(alice), tool_type="skeleton")
    assert async_to_sync(ctx.skeleton.get)("inbox") == over_http


def test_an_unknown_section_is_none_as_the_sdk_reads_a_404(probe):
    assert get(client(call=skeleton_call_token()), "nope") is None
    assert not SkeletonSection.objects.filter(section="nope").exists()


def test_an_extension_wide_service_token_reads_the_users_section_in_the_path(probe):
    raw = issue_token(APP).raw
    assert get(client("bob", service_token=raw))["unread"] == 0


def test_a_call_token_of_another_tool_type_is_refused(probe):
    with pytest.raises(httpx.HTTPStatusError) as refused:
        get(client(call=call_token(APP, "alice", tool_type="tool")))
    answer = refused.value.response
    assert answer.status_code == 403
    error = answer.json()["error"]
    assert error["code"] == "forbidden"
    assert "this call token is a 'tool' call's" in error["message"]
    assert not SkeletonSection.objects.exists()


def test_a_call_token_cannot_read_another_users_section(probe):
    with pytest.raises(httpx.HTTPStatusError) as refused:
        get(client("bob", call=skeleton_call_token("alice")))
    assert refused.value.response.status_code == 403
    assert SecurityEvent.objects.get(kind="gateway_user_mismatch").user_id == "alice"
    assert not SkeletonSection.objects.filter(user_id="bob").exists()


def test_no_credential_is_a_401(probe):
    with pytest.raises(httpx.HTTPStatusError) as refused:
        get(client())
    assert refused.value.response.status_code == 401
    assert refused.value.response.json()["error"]["code"] == "unauthenticated"
