"""/metrics, the request id and the JSON log line over real HTTP, on the production
server (scripts/serve.sh: granian, two worker processes, multiprocess metrics).

The known sequence of calls runs against the server; a scrape before and after
must differ by exactly the calls made, whichever worker answered each request
and whichever answers the scrape.
"""

import json
import uuid

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from apps.accounts.models import ApiToken, User
from apps.observability.models import RecordedError
from tests.compat.server import LiveServer

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
APP = "obs-probe"
EXTENSIONS = "tests.observability.probe_extension"
WORKERS = 2


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker, tmp_path_factory):
    """scripts/serve.sh with two workers sharing a metrics directory of the test's."""
    metrics_dir = tmp_path_factory.mktemp("prometheus")
    live = LiveServer(
        tmp_path_factory.mktemp("live"),
        extensions=EXTENSIONS,
        workers=WORKERS,
        env={"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir), "LOG_FORMAT": ""},
    )
    live.metrics_dir = metrics_dir
    live.start()
    yield live
    live.stop()


@pytest.fixture
def tokens(db):
    """API tokens of alice (a user) and root (a superuser operator)."""
    alice = User.objects.create(username="alice", imperal_id="alice")
    root = User.objects.create(
        username="root", imperal_id="root", is_staff=True, is_superuser=True
    )
    return ApiToken.issue(alice)[1], ApiToken.issue(root)[1]


def client(server, token=None):
    """A client opening a new connection per request, so requests reach both workers."""
    headers = {"Authorization": f"Token {token}"} if token else {}
    return httpx.Client(
        base_url=server.url,
        headers=headers,
        timeout=30,
        limits=httpx.Limits(max_keepalive_connections=0),
    )


def scrape(server):
    """Return {(sample name, frozenset of labels): value} of one /metrics answer."""
    with client(server) as http:
        answer = http.get("/metrics")
    assert answer.status_code == 200, answer.text[:300]
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def delta(before, after, name, **labels):
    key = (name, frozenset(labels.items()))
    return after.get(key, 0) - before.get(key, 0)


def call(http, tool, params, kind="tools"):
    return http.post(
        f"/api/v1/extensions/{APP}/{kind}/{tool}/call", json={"params": params}
    )


def test_a_known_sequence_of_calls_shows_in_each_series_with_its_count(server, tokens):
    user_token, operator_token = tokens
    key = f"k-{uuid.uuid4().hex[:8]}"
    before = scrape(server)
    with client(server, user_token) as http:
        for n in range(3):
            assert call(http, "work", {"text": f"note {n}"}).status_code == 200
        for _ in range(2):
            assert call(http, "boom", {"text": "x"}).status_code == 500
        first = call(http, "cached", {"key": key}).json()["result"]
        second = call(http, "cached", {"key": key}).json()["result"]
        assert call(http, "summary", {}, kind="panels").status_code == 200
    assert (first["was_cached"], second["was_cached"]) == (False, True)
    with client(server, operator_token) as http:
        fired = http.post(f"/api/v1/operator/schedules/{APP}/sweep/run")
    assert fired.status_code == 200 and fired.json()["status"] == "success"
    after = scrape(server)

    def calls(tool, outcome):
        return delta(
            before,
            after,
            "imperal_tool_calls_total",
            app=APP,
            tool=tool,
            outcome=outcome,
        )

    assert calls("work", "ok") == 3
    assert calls("boom", "handler_failed") == 2
    assert calls("cached", "ok") == 2
    assert calls("panel:summary", "ok") == 1
    seconds = "imperal_tool_call_seconds_count"
    assert delta(before, after, seconds, app=APP, tool="work") == 3
    assert delta(before, after, seconds, app=APP, tool="boom") == 2

    def requests(route, status):
        return delta(
            before,
            after,
            "imperal_http_requests_total",
            route=route,
            method="POST",
            status=str(status),
        )

    assert requests("api:tool-call", 200) == 3 + 2
    assert requests("api:tool-call", 500) == 2
    assert requests("api:panel-call", 200) == 1
    assert requests("api:schedule-run-now", 200) == 1
    latency = "imperal_http_request_seconds_count"
    assert delta(before, after, latency, route="api:tool-call", method="POST") == 7

    runs = "imperal_schedule_runs_total"
    assert delta(before, after, runs, app=APP, schedule="sweep", outcome="success") == 1
    ran = "imperal_schedule_run_seconds_count"
    assert delta(before, after, ran, app=APP, schedule="sweep") == 1

    # cached: a miss then a hit, then two hits.
    reads = "imperal_cache_reads_total"
    assert delta(before, after, reads, app=APP, result="miss") == 1
    assert delta(before, after, reads, app=APP, result="hit") == 3

    store = "imperal_store_operations_total"
    assert delta(before, after, store, op="create", outcome="ok") == 3
    assert delta(before, after, store, op="get", outcome="ok") == 3
    assert delta(before, after, store, op="count", outcome="ok") == 1
    store_seconds = "imperal_store_operation_seconds_count"
    assert delta(before, after, store_seconds, op="create") == 3

    errors = "imperal_errors_total"
    assert delta(before, after, errors, kind="handler_failed") == 2


def test_every_scrape_answers_for_both_workers(server, tokens):
    user_token, _ = tokens
    with client(server, user_token) as http:
        for n in range(8):
            assert call(http, "work", {"text": f"spread {n}"}).status_code == 200
    scrapes = [scrape(server) for _ in range(6)]
    key = ("imperal_tool_calls_total", frozenset(
        {"app": APP, "tool": "work", "outcome": "ok"}.items()
    ))  # fmt: skip
    assert len({answer[key] for answer in scrapes}) == 1
    # Both workers served requests: each wrote samples of its own.
    writers = {path.stem.rsplit("_", 1)[-1] for path in server.metrics_dir.glob("*.db")}
    assert len(writers) >= WORKERS


def test_invented_app_ids_and_tool_names_in_urls_add_no_label_value(server, tokens):
    user_token, _ = tokens
    made_up = f"invented{uuid.uuid4().hex[:6]}"
    with client(server, user_token) as http:
        refused = [
            http.post(f"/api/v1/extensions/{made_up}/tools/{made_up}/call", json={}),
            http.post(f"/api/v1/extensions/{APP}/tools/{made_up}/call", json={}),
            http.post(f"/api/v1/extensions/{APP}/panels/{made_up}/call", json={}),
            http.post(f"/v1/extensions/{made_up}/call", json={"function": made_up}),
            http.post(f"/v1/ext/{made_up}/webhook/{made_up}", json={}),
            http.get(f"/api/v1/{made_up}"),
            http.request(made_up.upper(), "/api/v1/extensions"),
        ]
    assert all(400 <= answer.status_code < 500 for answer in refused), [
        (answer.status_code, answer.text[:200]) for answer in refused
    ]
    after = scrape(server)
    leaked = [key for key in after if any(made_up in v for _, v in key[1])]
    assert leaked == []
    # What they were counted under instead: fixed values.
    unknown = frozenset(
        {"app": "(unknown)", "tool": "(unknown)", "outcome": "not_found"}.items()
    )
    assert after[("imperal_tool_calls_total", unknown)] >= 1
    assert any(
        dict(labels).get("route") == "(unmatched)"
        for name, labels in after
        if name == "imperal_http_requests_total"
    )
    assert any(
        dict(labels).get("method") == "(other)"
        for name, labels in after
        if name == "imperal_http_requests_total"
    )


def test_a_failed_call_logs_one_json_line_with_its_request_and_error_ids(
    server, tokens
):
    user_token, _ = tokens
    request_id = f"req-{uuid.uuid4().hex}"
    with client(server, user_token) as http:
        answer = http.post(
            f"/api/v1/extensions/{APP}/tools/boom/call",
            json={"params": {"text": "private words"}},
            headers={"X-Request-ID": request_id},
        )
    assert answer.status_code == 500
    assert answer.headers["X-Request-ID"] == request_id
    error_id = answer.json()["error"]["detail"]["error_id"]
    assert "private words" not in answer.text and "hunter2" not in answer.text

    lines = [json.loads(line) for line in server.log().splitlines() if "{" in line[:1]]
    (logged,) = [line for line in lines if line.get("error_id") == error_id]
    assert logged["request_id"] == request_id
    assert logged["level"] == "ERROR" and logged["error_kind"] == "handler_failed"
    assert "Traceback" in logged["exc_info"] and "ValueError" in logged["exc_info"]
    # The same failure, kept for the admin under the same ids.
    recorded = RecordedError.objects.get(error_id=error_id)
    assert (recorded.request_id, recorded.route) == (request_id, "api:tool-call")
    assert (recorded.app_id, recorded.handler) == (APP, "boom")
    assert "password=[scrubbed]" in recorded.message
    assert "hunter2" not in recorded.message + recorded.traceback


@pytest.mark.parametrize("sent", ["x" * 200, "two words", "a\tb"])
def test_an_insane_request_id_is_replaced_by_a_new_one(server, sent):
    with client(server) as http:
        answer = http.get("/healthz", headers={"X-Request-ID": sent})
    echoed = answer.headers["X-Request-ID"]
    assert echoed != sent and len(echoed) == 32 and int(echoed, 16) >= 0
