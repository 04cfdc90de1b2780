"""ctx.http in an isolated worker: sent through the gateway's /v1/internal/http and
made by the egress guard as the invocation's user — the SDK's HTTPResponse back,
records naming the real user, and every refusal raised in the handler as the
same error, by class, bases and message, that the same handler gets in-process.

The server and this process share the bounds: a 1000-byte response cap, 100
calls a minute per extension, and charlie's egress.calls quota of 0.
"""

import json
import re
import time

import pytest
from asgiref.sync import async_to_sync

from apps.accounts.models import SecurityEvent
from apps.common import ratelimit
from apps.egress.limits import RATE_KEY_PREFIX, permits
from apps.egress.models import OutboundCall
from apps.extensions.invocation import prepare_tool
from tests.compat.server import LiveServer
from tests.egress.upstream import Upstream

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
APP = "egress-dir"
ENTRY = "tests/fixtures/egress_dir"
METADATA = "http://169.254.169.254/latest/meta-data/"
MAX_RESPONSE_BYTES = 1000
RATE, RATE_SECONDS = 100, 60
QUOTAS = {APP: {"users": {"charlie": {"egress.calls": 0}}}}


@pytest.fixture(scope="module")
def upstream():
    server = Upstream()
    yield server
    server.stop()


def allow(upstream):
    return {APP: [f"127.0.0.1:{upstream.port}"]}


@pytest.fixture(scope="module")
def egress_server(django_db_setup, django_db_blocker, tmp_path_factory, upstream):
    live = LiveServer(
        tmp_path_factory.mktemp("egress"),
        extensions=ENTRY,
        env={
            "IMPERAL_EXTENSION_RUNTIME": json.dumps({APP: "isolated"}),
            "IMPERAL_EGRESS_ALLOW": json.dumps(allow(upstream)),
            "IMPERAL_EGRESS_MAX_RESPONSE_BYTES": str(MAX_RESPONSE_BYTES),
            "IMPERAL_EGRESS_RATE": f"{RATE}/min",
            "IMPERAL_QUOTAS": json.dumps(QUOTAS),
        },
    )
    live.start()
    yield live
    live.stop()


@pytest.fixture
def runs(egress_server, upstream, settings, use_extensions):
    """Return a function running a tool of APP in a given runtime; this process's
    bounds are the server's, for the in-process runs."""
    settings.IMPERAL_HANDLER_TIMEOUTS = {APP: 20}
    settings.IMPERAL_EGRESS_ALLOW = allow(upstream)
    settings.IMPERAL_EGRESS_MAX_RESPONSE_BYTES = MAX_RESPONSE_BYTES
    settings.IMPERAL_EGRESS_RATE = f"{RATE}/min"
    settings.IMPERAL_QUOTAS = QUOTAS
    permits.forget()
    use_extensions(ENTRY)

    def run_in(runtime, handler, user="alice", **params):
        settings.IMPERAL_EXTENSION_RUNTIME = {APP: runtime}
        return async_to_sync(prepare_tool(APP, handler, user, params).run)()

    return run_in


def tool(run_in, handler, user="alice", **params):
    return run_in("isolated", handler, user, **params)


def in_both(run_in, handler="call", user="alice", **params):
    """Return (in-process answer, isolated answer) of the same call."""
    return (
        run_in("in-process", handler, user, **params),
        run_in("isolated", handler, user, **params),
    )


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
    runs, upstream, alice
):
    before = len(upstream.requests)
    got = tool(runs, "fetch", url=upstream.url("/json"))
    assert got["is_sdk_response"] is True
    assert got["status_code"] == 200 and got["ok"] is True
    assert got["json"] == {"hello": "world", "items": [1, 2]}
    assert got["content_type"] == "application/json"
    posted = tool(
        runs, "fetch", url=upstream.url("/echo"), method="POST", payload={"a": 1}
    )
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
    runs, upstream, alice, url, rule, host
):
    before = len(upstream.requests)
    got = tool(runs, "fetch", url=url.format(other=upstream.port + 1))
    assert got["raised"] == "EgressRefused", got
    assert got["permission_error"] is True
    assert got["rule"] == rule and got["host"] == host
    assert rule in got["message"] and host in got["message"]
    assert len(upstream.requests) == before
    event = SecurityEvent.objects.get(kind="egress_refused", app_id=APP)
    assert event.user_id == "alice"
    [row] = stored_calls(1)
    assert (row.user_id, row.outcome, row.rule) == ("alice", "refused", rule)


def test_the_sdk_timeout_cap_holds_in_the_worker(runs, upstream, alice):
    got = tool(runs, "bad_timeout", url=upstream.url("/json"))
    assert got["raised"] == "ValueError"
    assert "180" in got["message"]
    assert not OutboundCall.objects.filter(app_id=APP).exists()


# --- every refusal, the same in both runtimes ----------------------------------------
def test_a_refusal_by_the_guard_is_the_same_error_in_both_runtimes(
    runs, upstream, alice
):
    url = f"http://127.0.0.1:{upstream.port + 1}/json"
    in_process, worker = in_both(runs, url=url)
    assert worker == in_process
    assert worker["raised"] == "EgressRefused"
    assert {"PermissionError", "ImperalError", "RequestError"} <= set(worker["catches"])
    assert (worker["rule"], worker["host"]) == ("loopback", "127.0.0.1")


def test_a_response_past_the_size_cap_is_the_same_error_in_both_runtimes(
    runs, upstream, alice
):
    url = upstream.url(f"/bytes?n={MAX_RESPONSE_BYTES + 1}")
    in_process, worker = in_both(runs, url=url)
    assert worker == in_process
    assert worker["raised"] == "ResponseTooLarge"
    assert {"ImperalError", "RequestError"} <= set(worker["catches"])
    assert f"passed {MAX_RESPONSE_BYTES} bytes" in worker["message"]
    assert worker["rule"] == "size"


def test_the_users_egress_quota_is_the_same_error_in_both_runtimes(
    runs, upstream, charlie
):
    before = len(upstream.requests)
    in_process, worker = in_both(runs, user="charlie", url=upstream.url("/json"))
    assert worker == in_process
    assert worker["raised"] == "QuotaExceeded"
    assert {"QuotaExceededError", "ImperalError"} <= set(worker["catches"])
    assert worker["quota"]["kind"] == "egress.calls"
    assert worker["quota"]["limit"] == 0
    assert "quota egress.calls of extension 'egress-dir' reached" in worker["message"]
    assert len(upstream.requests) == before  # neither call left


def test_a_timeout_is_httpxs_own_error_in_both_runtimes(runs, upstream, alice):
    arguments = {"timeout": 0.5}
    in_process, worker = in_both(
        runs, url=upstream.url("/slow?s=2"), arguments=arguments
    )
    assert worker == in_process
    assert worker["raised"] == "ReadTimeout"
    assert {"TimeoutException", "RequestError"} <= set(worker["catches"])


@pytest.fixture
def rate_spent():
    """Spend what is left of APP's rate window on the shared counter (as that many
    calls would); give it back after. A window about to end is waited out."""
    key, left = ratelimit.window_key(RATE_KEY_PREFIX, APP, RATE_SECONDS, time.time())
    if left < 10:
        time.sleep(left)
        key, _ = ratelimit.window_key(RATE_KEY_PREFIX, APP, RATE_SECONDS, time.time())
    counter = ratelimit.counter_for()
    counter.incr(key, RATE_SECONDS + 1, RATE)
    yield
    counter.incr(key, RATE_SECONDS + 1, -RATE)


def test_the_extensions_rate_is_the_same_error_in_both_runtimes(
    runs, upstream, alice, rate_spent
):
    before = len(upstream.requests)
    in_process, worker = in_both(runs, url=upstream.url("/json"))
    retry = re.compile(r"retry in \d+ s")
    assert retry.sub("", worker.pop("message")) == retry.sub(
        "", in_process.pop("message")
    )
    assert worker == in_process
    assert worker["raised"] == "EgressRateLimited"
    assert worker["retry_after"] is True
    assert (worker["rule"], worker["host"]) == ("rate", "127.0.0.1")
    assert len(upstream.requests) == before


# --- what the SDK's HTTPClient takes ---------------------------------------------
def test_follow_redirects_false_returns_the_redirect_in_both_runtimes(
    runs, upstream, alice
):
    url = upstream.url("/redirect?to=/json")
    arguments = {"follow_redirects": False}
    in_process, worker = in_both(runs, url=url, arguments=arguments)
    assert worker == in_process
    assert (worker["status_code"], worker["location"]) == (302, "/json")
    followed = tool(runs, "call", url=url)
    assert followed["status_code"] == 200


def received(answer):
    """Return what /inspect saw, the multipart boundary (random) made fixed."""
    seen = answer["body"]
    boundary = re.search(r"boundary=(\w+)", seen["headers"].get("content-type", ""))
    if boundary:
        seen = json.loads(json.dumps(seen).replace(boundary.group(1), "BOUNDARY"))
    return seen


def test_files_cookies_params_and_basic_auth_arrive_the_same_from_both_runtimes(
    runs, upstream, alice
):
    params = {
        "url": upstream.url("/inspect?keep=1"),
        "method": "post",
        "arguments": {
            "params": {"q": "x"},
            "cookies": {"session": "s1"},
            "data": {"field": "value"},
            "headers": {"X-Probe": "1"},
        },
        "auth": ["ada", "secret"],
        "files": {"upload": ["notes.txt", "file body"]},
    }
    in_process, worker = in_both(runs, **params)
    assert received(worker) == received(in_process)
    seen = received(worker)
    assert seen["method"] == "POST" and seen["path"] == "/inspect?q=x"
    assert seen["headers"]["cookie"] == "session=s1"
    assert seen["headers"]["authorization"] == "Basic YWRhOnNlY3JldA=="
    assert seen["headers"]["x-probe"] == "1"
    assert seen["headers"]["content-type"] == "multipart/form-data; boundary=BOUNDARY"
    assert 'filename="notes.txt"' in seen["body"] and "file body" in seen["body"]
    assert 'name="field"' in seen["body"] and "value" in seen["body"]


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"auth": ["digest"]}, "auth"),
        ({"arguments": {"extensions": {"sni_hostname": "x"}}}, "extensions"),
        ({"arguments": {"verify": False}}, "verify"),
    ],
)
def test_what_a_worker_cannot_relay_is_a_type_error_naming_it(
    runs, upstream, alice, params, named
):
    before = len(upstream.requests)
    got = tool(runs, "call", url=upstream.url("/json"), **params)
    assert got["raised"] == "TypeError", got
    assert named in got["message"]
    assert len(upstream.requests) == before
