"""OpenTelemetry tracing: a request's span (Django instrumentation), the kernel's
invocation span and the store, cache and ctx.db spans under it.

Off by default: until :func:`configure` finds an OTLP endpoint in the standard
OTEL_* variables (or a test calls :func:`install`), :func:`span` returns one
shared object that does nothing, so a traced call costs one ``is None`` check.
Spans carry names (app, tool, operation), never params, documents or SQL.
"""

import logging
import os

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.django import DjangoInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Status, StatusCode, set_tracer_provider, use_span

logger = logging.getLogger("imperal.tracing")

SERVICE_NAME = "imperal-platform"
ENDPOINT_VARIABLES = (
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
)
_TRUE = {"1", "true", "yes", "on"}

_tracer = None


class _NoSpan:
    """What :func:`span` returns while tracing is off: a context manager doing nothing."""

    __slots__ = ()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return False

    def set_attribute(self, key, value):
        """Do nothing (tracing is off)."""

    def end(self, exc=None):
        """Do nothing (tracing is off)."""


NO_SPAN = _NoSpan()


class _Span:
    """A started span: ``with`` makes it current; ``end(exc)`` ends it either way.

    A failure sets the span's status to ERROR and ``error.type`` to the
    exception's class name, never its message (it may hold a caller's data).
    """

    __slots__ = ("span", "_activation")

    def __init__(self, span):
        self.span = span
        self._activation = None

    def __enter__(self):
        self._activation = use_span(
            self.span,
            end_on_exit=False,
            record_exception=False,
            set_status_on_exception=False,
        )
        self._activation.__enter__()
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            self._activation.__exit__(exc_type, exc, tb)
        finally:
            self.end(exc)
        return False

    def set_attribute(self, key, value):
        """Set one attribute of the span (a name or a number, never caller data)."""
        self.span.set_attribute(key, value)

    def end(self, exc=None):
        """End the span; ``exc`` (if any) marks it failed, by type only."""
        if exc is not None:
            self.span.set_attribute("error.type", type(exc).__name__)
            self.span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
        self.span.end()


def span(name, **attributes):
    """Return a span named ``name`` under the current one, not yet current:
    ``with span(...)`` makes it current for the block; or call ``.end(exc)``.

    While tracing is off, the shared NO_SPAN.
    """
    if _tracer is None:
        return NO_SPAN
    return _Span(_tracer.start_span(name, attributes=attributes))


def enabled():
    """Return whether spans are being recorded in this process."""
    return _tracer is not None


def wanted(environ=os.environ):
    """Return whether the environment asks for traces exported over OTLP: an
    endpoint is set, OTEL_SDK_DISABLED is not true and OTEL_TRACES_EXPORTER is
    unset or ``otlp``."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() in _TRUE:
        return False
    exporter = environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower()
    if exporter not in ("", "otlp"):
        return False
    return any(environ.get(name) for name in ENDPOINT_VARIABLES)


def configure(instrument_django=True, environ=os.environ):
    """Turn tracing on when :func:`wanted`: spans batched to the OTLP/HTTP exporter
    (which reads the OTEL_EXPORTER_OTLP_* variables), a resource from
    OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES (service name
    ``imperal-platform`` by default), the sampler from OTEL_TRACES_SAMPLER.
    Return whether tracing is on. Called once per process at start (wsgi, asgi,
    a Celery worker's child)."""
    if _tracer is not None:
        return True
    if not wanted(environ):
        return False
    provider = TracerProvider(resource=_resource())
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    set_tracer_provider(provider)
    install(provider, instrument_django=instrument_django)
    logger.info("tracing on: spans exported over OTLP")
    return True


def install(provider, instrument_django=True):
    """Record spans with ``provider`` from now on (``configure``, and tests with the
    SDK's in-memory exporter); with ``instrument_django``, requests get spans too."""
    global _tracer
    _tracer = provider.get_tracer("imperal-platform")
    if instrument_django:
        DjangoInstrumentor().instrument(
            tracer_provider=provider, request_hook=_without_query
        )


def uninstall():
    """Stop recording spans (tests); requests lose their spans too."""
    global _tracer
    _tracer = None
    DjangoInstrumentor().uninstrument()


def _resource():
    resource = Resource.create()
    if str(resource.attributes.get("service.name", "")).startswith("unknown_service"):
        resource = resource.merge(Resource({"service.name": SERVICE_NAME}))
    return resource


# The request span's attributes that hold the URL: a GET's query string can hold
# a caller's values (a where, a cursor), which spans never carry.
_URL_ATTRIBUTES = ("http.target", "http.url", "url.full")


def _without_query(span, request):
    """The Django instrumentation's request hook: drop the query from the URL."""
    if not span.is_recording():
        return
    recorded = getattr(span, "attributes", None) or {}
    for key in _URL_ATTRIBUTES:
        value = recorded.get(key)
        if isinstance(value, str) and "?" in value:
            span.set_attribute(key, value.split("?", 1)[0])
    if recorded.get("url.query"):
        span.set_attribute("url.query", "")
