"""A handler's ctx.http, called through the kernel as the CLI, REST API and Celery
call it: the real context, the real guard, a live upstream on loopback."""

import json

import pytest
from asgiref.sync import async_to_sync
from django.utils import timezone
from imperal_sdk.http import HTTPClient

from apps.accounts.identity import user_context
from apps.extensions.context import IdentityFixed, build_context
from apps.extensions.errors import HandlerFailed
from apps.extensions.invocation import prepare_tool
from apps.extensions.sync import sync_extensions
from apps.scheduler.fire import fire_schedule, manual_slot

from .conftest import calls_of, refusals_of

pytestmark = pytest.mark.django_db(transaction=True)

APP = "http-probe"


@pytest.fixture
def probe(use_extensions):
    loaded = use_extensions("tests.fixtures.extensions.http_probe").get(APP)
    sync_extensions()
    return loaded


def call(tool, user="alice", **params):
    return async_to_sync(prepare_tool(APP, tool, user, params).run)()


def test_ctx_http_is_the_sdks_client(probe, alice):
    ctx = build_context(probe.ext, user_context(alice))
    assert isinstance(ctx.http, HTTPClient)
    assert ctx.http  # an extension's `if ctx.http:` takes the served path


def test_a_tool_reaches_an_allowed_upstream(probe, alice, upstream, settings):
    settings.IMPERAL_EGRESS_ALLOW = json.dumps({APP: [f"127.0.0.1:{upstream.port}"]})
    result = call("fetch", url=upstream.url("/json"))
    assert result == {"status": 200, "body": {"hello": "world", "items": [1, 2]}}
    (row,) = calls_of(APP)
    assert (row.user_id, row.host, row.status, row.outcome) == (
        "alice",
        "127.0.0.1",
        200,
        "ok",
    )


def test_a_refusal_reaches_the_handler_as_an_error_it_can_catch(probe, alice, upstream):
    result = call("fetch_or_explain", url=upstream.url("/json"))
    assert result["rule"] == "loopback"
    assert f"127.0.0.1:{upstream.port}" in result["refused"]
    assert upstream.requests == []
    assert refusals_of(APP)[0].user_id == "alice"


def test_an_uncaught_refusal_fails_the_call_naming_the_rule(probe, alice, upstream):
    with pytest.raises(HandlerFailed) as failed:
        call("fetch", url="http://169.254.169.254/latest/meta-data/")
    assert failed.value.exc.rule == "link-local"
    assert "169.254.169.254" in str(failed.value.exc)


def test_a_handler_cannot_swap_ctx_http_for_an_unguarded_client(probe, alice):
    with pytest.raises(HandlerFailed) as failed:
        call("swap_http")
    assert type(failed.value.exc) is IdentityFixed


def test_a_schedule_calls_as_each_user(probe, alice, bob, upstream, settings):
    settings.IMPERAL_EGRESS_ALLOW = {APP: [f"127.0.0.1:{upstream.port}"]}
    settings.IMPERAL_EXTENSION_CONFIG = {APP: {"url": upstream.url("/json")}}
    for user in (alice, bob):
        ctx = build_context(probe.ext, user_context(user))
        async_to_sync(ctx.store.create)("feeds", {"on": True})
    now = timezone.now()
    run = fire_schedule(APP, "poll", slot=manual_slot(now), trigger="manual", now=now)
    assert run.status == "success", run.error
    assert sorted(c.user_id for c in calls_of(APP)) == ["alice", "bob"]
