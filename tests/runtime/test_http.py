"""ctx.http in an isolated worker: sent through the gateway's /v1/internal/http and
made by the egress guard as the invocation's user — the SDK's HTTPResponse back,
refusals by rule and host, records naming the real user."""

import json
import time

import pytest
from asgiref.sync import async_to_sync

from apps.accounts.models import SecurityEvent
from apps.egress.models import OutboundCall
from apps.extensions.invocation import prepare_tool
from tests.compat.server import LiveServer
from tests.egress.upstream import Upstream

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
APP = "egress-dir"
ENTRY = "tests/fixtures/egress_dir"
METADATA = "http://169.254.169.254/latest/meta-data/"


@pytest.fixture(scope="module")
def upstream():
    server = Upstream()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def egress_server(django_db_setup, django_db_blocker, tmp_path_factory, upstream):
    live = LiveServer(
        tmp_path_factory.mktemp("egress"),
        extensions=ENTRY,
        env={
            "IMPERAL_EXTENSION_RUNTIME": json.dumps({APP: "isolated"}),
            "IMPERAL_EGRESS_ALLOW": json.dumps({APP: [f"127.0.0.1:{upstream.port}"]}),
        },
    )
    live.start()
    yield live
    live.stop()


@pytest.fixture
def isolated(egress_server, settings, use_extensions):
    settings.IMPERAL_EXTENSION_RUNTIME = {APP: "isolated"}
    settings.IMPERAL_HANDLER_TIMEOUTS = {APP: 20}
    use_extensions(ENTRY)


def tool(handler, user="alice", **params):
    return async_to_sync(prepare_tool(APP, handler, user, params).run)()


def stored_calls(count, timeout=10):
    """Return the OutboundCall rows of APP once ``count`` are stored (the server's
    recorder writes them in batches, soon after each call)."""
    deadline = time.monotonic() + timeout
    while True:
        rows = list(OutboundCall.objects.filter(app_id=APP).order_by("started_at"))
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.1)


def test_an_isolated_tool_gets_the_sdk_response_from_an_allowed_upstream(
    isolated, upstream, alice
):
    before = len(upstream.requests)
    got = tool("fetch", url=upstream.url("/json"))
    assert got["is_sdk_response"] is True
    assert got["status_code"] == 200 and got["ok"] is True
    assert got["json"] == {"hello": "world", "items": [1, 2]}
    assert got["content_type"] == "application/json"
    posted = tool("fetch", url=upstream.url("/echo"), method="POST", payload={"a": 1})
    assert posted["json"]["method"] == "POST"
    assert posted["json"]["received"] == len(b'{"a":1}')
    assert [r["path"] for r in upstream.requests[before:]] == ["/json?q=x", "/echo"]
    rows = stored_calls(2)
    assert [(r.user_id, r.method, r.status) for r in rows] == [
        ("alice", "GET", 200),
        ("alice", "POST", 200),
    ]


@pytest.mark.parametrize(
    ("url", "rule", "host"),
    [
        ("http://127.0.0.1:{other}/json", "loopback", "127.0.0.1"),
        (METADATA, "link-local", "169.254.169.254"),
    ],
)
def test_a_refused_destination_raises_by_rule_and_is_recorded_as_the_user(
    isolated, upstream, alice, url, rule, host
):
    before = len(upstream.requests)
    got = tool("fetch", url=url.format(other=upstream.port + 1))
    assert got["raised"] == "WorkerEgressRefused", got
    assert got["permission_error"] is True
    assert got["rule"] == rule and got["host"] == host
    assert rule in got["message"] and host in got["message"]
    assert len(upstream.requests) == before
    event = SecurityEvent.objects.get(kind="egress_refused", app_id=APP)
    assert event.user_id == "alice"
    [row] = stored_calls(1)
    assert (row.user_id, row.outcome, row.rule) == ("alice", "refused", rule)


def test_the_sdk_timeout_cap_holds_in_the_worker(isolated, upstream, alice):
    got = tool("bad_timeout", url=upstream.url("/json"))
    assert got["raised"] == "ValueError"
    assert "180" in got["message"]
    assert not OutboundCall.objects.filter(app_id=APP).exists()
