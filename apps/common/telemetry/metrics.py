"""Every Prometheus series the platform records, the helpers that record them, and
the exposition ``/metrics`` serves.

Label values go through :mod:`.labels` (known names only). Across processes:
with ``PROMETHEUS_MULTIPROC_DIR`` set (prometheus_client's multiprocess mode,
which ``scripts/serve.sh`` and ``scripts/run.sh`` turn on) every process writes
its samples to files in that directory and a scrape adds up all of them, so any
granian worker answering ``/metrics`` reports the whole server; without it a
scrape sees the answering process only. See docs/operators/observability.md.
"""

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    start_http_server,
)
from prometheus_client.multiprocess import MultiProcessCollector

from . import labels

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST

# Seconds: a request or a store statement is usually milliseconds; a tool may run
# up to its timeout (60 s by default), a schedule up to an hour.
_FAST = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
_CALL = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
_RUN = (0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)

HTTP_REQUESTS = Counter(
    "imperal_http_requests_total",
    "HTTP requests answered, by URL pattern name, method and status.",
    ["route", "method", "status"],
)
HTTP_SECONDS = Histogram(
    "imperal_http_request_seconds",
    "Seconds from a request reaching Django's middleware to its response.",
    ["route", "method"],
)
TOOL_CALLS = Counter(
    "imperal_tool_calls_total",
    "Tool, chat-function and panel (tool 'panel:<id>') calls by outcome: 'ok', or "
    "the error code (refusals before the handler ran included).",
    ["app", "tool", "outcome"],
)
TOOL_SECONDS = Histogram(
    "imperal_tool_call_seconds",
    "Seconds a tool, chat function or panel handler ran (calls that ran only).",
    ["app", "tool"],
    buckets=_CALL,
)
SCHEDULE_RUNS = Counter(
    "imperal_schedule_runs_total",
    "Schedule runs recorded, by their final status (success, failed, timeout, "
    "skipped-duplicate, skipped-disabled, missed).",
    ["app", "schedule", "outcome"],
)
SCHEDULE_SECONDS = Histogram(
    "imperal_schedule_run_seconds",
    "Seconds a schedule handler ran (runs that ran it).",
    ["app", "schedule"],
    buckets=_RUN,
)
CACHE_READS = Counter(
    "imperal_cache_reads_total",
    "ctx.cache reads (get, get_or_fetch, the gateway's GET) by result: hit or miss.",
    ["app", "result"],
)
STORE_OPERATIONS = Counter(
    "imperal_store_operations_total",
    "ctx.store core operations (every face) by outcome: 'ok' or the error code.",
    ["op", "outcome"],
)
STORE_SECONDS = Histogram(
    "imperal_store_operation_seconds",
    "Seconds a ctx.store core operation took, statements included.",
    ["op"],
    buckets=_FAST,
)
ERRORS = Counter(
    "imperal_errors_total",
    "Failures answered with an error id (handler_failed, internal), each recorded "
    "under that id for the admin's Recorded errors page.",
    ["kind"],
)

CACHE_RESULTS = frozenset({"hit", "miss"})
ERROR_KINDS = frozenset({"handler_failed", "internal"})


# (route, method, status) -> its counter and (route, method) histogram children:
# a dict lookup per request instead of prometheus_client's labels() (bounded:
# every key is made of known names).
_request_series = {}


def request_answered(resolver_match, method, status, seconds):
    """Count and time one HTTP request."""
    key = (labels.route_label(resolver_match), labels.method_label(method), status)
    series = _request_series.get(key)
    if series is None:
        route, method, _ = key
        series = _request_series.setdefault(
            key,
            (
                HTTP_REQUESTS.labels(route, method, str(int(status))),
                HTTP_SECONDS.labels(route, method),
            ),
        )
    series[0].inc()
    series[1].observe(seconds)


def tool_called(app_id, kind, name, exc=None, seconds=None):
    """Count one tool/chat-function/panel call (``kind`` "tool" or "panel") ending
    with ``exc`` (None: success); time it when it ran (``seconds`` not None)."""
    app = labels.app_label(app_id)
    tool = labels.UNKNOWN
    if app != labels.UNKNOWN:
        tool = labels.handler_label(app_id, kind, name)
    if kind == "panel" and tool != labels.UNKNOWN:
        tool = f"panel:{tool}"
    TOOL_CALLS.labels(app, tool, labels.outcome_label(exc)).inc()
    if seconds is not None:
        TOOL_SECONDS.labels(app, tool).observe(seconds)


def schedule_run_recorded(app_id, schedule, status, allowed, seconds=None):
    """Count one schedule run stored with final ``status`` (one of ``allowed``);
    time it when its handler ran (``seconds`` not None)."""
    app = labels.app_label(app_id)
    name = labels.UNKNOWN
    if app != labels.UNKNOWN:
        name = labels.handler_label(app_id, "schedule", schedule)
    SCHEDULE_RUNS.labels(app, name, labels.choice_label(status, allowed)).inc()
    if seconds is not None:
        SCHEDULE_SECONDS.labels(app, name).observe(seconds)


# (app id, hit) -> its counter child, for app ids found loaded: a ctx.cache read
# is hot, and asking the kernel per read would cost more than the count.
_cache_series = {}
# (op, outcome) -> its counter and histogram children: a store operation is hot too.
_store_series = {}


def cache_read(app_id, hit):
    """Count one ctx.cache read of ``app_id``'s entries: a hit or a miss."""
    series = _cache_series.get((app_id, hit))
    if series is None:
        app = labels.app_label(app_id)
        series = CACHE_READS.labels(app, "hit" if hit else "miss")
        if app != labels.UNKNOWN:
            _cache_series[(app_id, hit)] = series
    series.inc()


def store_operation(op, allowed, exc, seconds):
    """Count and time one store operation ``op`` (one of ``allowed``) that ended
    with ``exc`` (None: success)."""
    outcome = labels.outcome_label(exc)
    series = _store_series.get((op, outcome))
    if series is None:
        label = labels.choice_label(op, allowed)
        series = STORE_OPERATIONS.labels(label, outcome), STORE_SECONDS.labels(label)
        if label == op:  # a bounded set: the operations times the outcomes
            _store_series[(op, outcome)] = series
    count, duration = series
    count.inc()
    duration.observe(seconds)


def error_answered(kind):
    """Count one failure answered with an error id."""
    ERRORS.labels(labels.choice_label(kind, ERROR_KINDS)).inc()


def multiprocess_dir():
    """Return the directory of multiprocess mode (PROMETHEUS_MULTIPROC_DIR), or None."""
    return os.environ.get(MULTIPROC_ENV) or None


def exposition_registry():
    """Return the registry a scrape reads: every process's files in multiprocess
    mode, else this process's own registry."""
    path = multiprocess_dir()
    if path is None:
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=path)
    return registry


def exposition():
    """Return the text exposition of every series (see :func:`exposition_registry`)."""
    return generate_latest(exposition_registry())


def serve_on_port(port, address="127.0.0.1"):
    """Serve :func:`exposition` on ``address:port`` from a thread (a Celery worker
    has no web server of its own); return the server."""
    server, _thread = start_http_server(
        port, addr=address, registry=exposition_registry()
    )
    return server
