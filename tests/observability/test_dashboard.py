"""deploy/grafana/imperal-platform.json: every query names series the platform exports,
with labels those series have."""

import json
import re
from importlib import import_module
from pathlib import Path

import pytest
from django.conf import settings
from prometheus_client import REGISTRY

DASHBOARD = Path(settings.BASE_DIR) / "deploy" / "grafana" / "imperal-platform.json"
# What each kind of metric family exports, after its name.
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum")}
METRIC = re.compile(r"\b(imperal_[a-z0-9_]+)\b")
GROUPING = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")
MATCHER = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)\s*\"")


def exported():
    """Return {sample name: its label names} of every platform family the web
    application registers (its URLconf imports every view and what they use)."""
    import_module(settings.ROOT_URLCONF)
    names = {}
    for name, collector in REGISTRY._names_to_collectors.items():
        if not name.startswith("imperal_"):
            continue
        labels = set(getattr(collector, "_labelnames", ()))
        kind = getattr(collector, "_type", "")
        base = name.removesuffix("_total")
        for suffix in SUFFIXES.get(kind, ("",)):
            extra = {"le"} if suffix == "_bucket" else set()
            names[base + suffix] = labels | extra
    return names


def queries():
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [
        (panel["title"], target["expr"])
        for panel in panels
        for target in panel.get("targets", [])
    ]


def test_the_dashboard_has_a_panel_for_each_kind_of_series():
    named = {name for _, expr in queries() for name in METRIC.findall(expr)}
    assert {
        "imperal_http_requests_total",
        "imperal_http_request_seconds_bucket",
        "imperal_tool_calls_total",
        "imperal_tool_call_seconds_bucket",
        "imperal_schedule_runs_total",
        "imperal_cache_reads_total",
        "imperal_store_operations_total",
        "imperal_store_threat_total",
        "imperal_errors_total",
    } <= named


@pytest.mark.parametrize("title, expr", queries())
def test_every_query_names_exported_series_and_their_labels(title, expr):
    series = exported()
    names = METRIC.findall(expr)
    assert names, f"{title}: no platform series in {expr!r}"
    unknown = [name for name in names if name not in series]
    assert unknown == [], f"{title}: not exported: {unknown}"
    labels = set().union(*(series[name] for name in names))
    used = {
        label.strip()
        for group in GROUPING.findall(expr)
        for label in group.split(",")
        if label.strip()
    }
    used |= set(MATCHER.findall(expr))
    assert used <= labels, f"{title}: labels {sorted(used - labels)} not on {names}"
    assert expr.count("(") == expr.count(")"), title
