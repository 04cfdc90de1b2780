"""OpenTelemetry: one tool call's trace, request → invocation → store, and nothing
of its params or documents in any span; off unless an OTLP endpoint is set."""

import threading
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.conf import settings
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from opentelemetry.trace import SpanKind, StatusCode

from apps.common.telemetry import tracing
from tests.processes import platform_process

from .conftest import APP


@pytest.fixture
def spans():
    """Record every span of the test in memory (the SDK's own exporter)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.install(provider)
    yield exporter
    tracing.uninstall()


def values_of(span):
    """Return every attribute and event attribute value of a span, as text."""
    values = [str(value) for value in span.attributes.values()]
    for event in span.events:
        values += [str(value) for value in event.attributes.values()]
    return values


def test_one_tool_call_is_a_request_span_over_an_invocation_span_over_store_spans(
    as_alice, spans
):
    marker = f"private-{uuid.uuid4().hex}"
    answer = as_alice.call("work", {"text": marker})
    assert answer.status_code == 200, answer.content

    finished = spans.get_finished_spans()
    (request,) = [s for s in finished if s.kind == SpanKind.SERVER]
    (invocation,) = [s for s in finished if s.name == f"invoke {APP}.work"]
    stored = [s for s in finished if s.name.startswith("store.")]
    assert [s.name for s in stored] == ["store.create", "store.get"]

    assert invocation.parent.span_id == request.context.span_id
    assert {s.parent.span_id for s in stored} == {invocation.context.span_id}
    assert {s.context.trace_id for s in finished} == {request.context.trace_id}
    assert request.attributes["http.route"].endswith("tools/<str:name>/call")
    assert dict(invocation.attributes) == {
        "imperal.app": APP,
        "imperal.kind": "tool",
        "imperal.handler": "work",
    }
    assert stored[0].attributes["imperal.store.op"] == "create"
    vendor = "postgresql" if settings.IS_POSTGRES else "sqlite"
    assert stored[0].attributes["db.system"] == vendor
    # Neither the param nor the document holding it is in any span.
    assert not [v for s in finished for v in values_of(s) if marker in v]


def test_a_failed_call_marks_its_spans_failed_by_type_only(as_alice, spans):
    answer = as_alice.call("boom", {"text": "private words"})
    assert answer.status_code == 500

    finished = spans.get_finished_spans()
    (invocation,) = [s for s in finished if s.name == f"invoke {APP}.boom"]
    assert invocation.status.status_code == StatusCode.ERROR
    assert invocation.attributes["error.type"] == "HandlerFailed"
    leaked = [
        v
        for s in finished
        for v in [*values_of(s), s.status.description or ""]
        if "private words" in v or "hunter2" in v
    ]
    assert leaked == []


def test_a_query_string_never_reaches_the_request_span(as_alice, spans):
    answer = as_alice.client.get(
        "/api/v1/extensions?cursor=private-cursor&where=secret",
        HTTP_AUTHORIZATION=f"Token {as_alice.token}",
    )
    assert answer.status_code == 200
    (request,) = spans.get_finished_spans()
    assert not [v for v in values_of(request) if "private-cursor" in v]
    assert request.attributes["http.route"] == "api/v1/extensions"


def test_tracing_is_off_without_an_endpoint_and_a_span_is_then_a_shared_no_op():
    assert not tracing.enabled()
    assert tracing.span("store.get", op="get") is tracing.NO_SPAN
    assert not tracing.configure(environ={})


@pytest.mark.parametrize(
    "environ, wanted",
    [
        ({}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v"}, True),
        (
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318",
                "OTEL_SDK_DISABLED": "true",
            },
            False,
        ),
        (
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318",
                "OTEL_TRACES_EXPORTER": "none",
            },
            False,
        ),
    ],
)
def test_only_an_otlp_endpoint_turns_tracing_on(environ, wanted):
    assert tracing.wanted(environ) is wanted


class Collector(BaseHTTPRequestHandler):
    """An OTLP/HTTP collector on 127.0.0.1: keeps each export request's body."""

    received = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Collector.received.append((self.path, body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def collector():
    Collector.received = []
    server = HTTPServer(("127.0.0.1", 0), Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


# A process that turns tracing on as wsgi.py does, makes one span and exits (the
# batch processor exports what it holds at shutdown).
EXPORTING_PROCESS = """
import django
django.setup()
from opentelemetry import trace
from apps.common.telemetry import tracing
assert tracing.configure(instrument_django=False)
with tracing.span("store.get", **{"imperal.store.op": "get"}):
    pass
trace.get_tracer_provider().shutdown()
"""


def test_spans_are_exported_over_otlp_http_when_an_endpoint_is_set(collector):
    done = platform_process(
        EXPORTING_PROCESS,
        OTEL_EXPORTER_OTLP_ENDPOINT=collector,
        OTEL_SERVICE_NAME="imperal-test",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    ((path, body),) = Collector.received
    assert path == "/v1/traces"
    exported = ExportTraceServiceRequest.FromString(body)
    (resource_spans,) = exported.resource_spans
    service = {a.key: a.value.string_value for a in resource_spans.resource.attributes}[
        "service.name"
    ]
    assert service == "imperal-test"
    names = [s.name for scope in resource_spans.scope_spans for s in scope.spans]
    assert names == ["store.get"]
