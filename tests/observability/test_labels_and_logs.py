"""Label values come from known names only; log lines carry their request's id."""

import io
import json
import logging

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string
from prometheus_client import REGISTRY

from apps.common.telemetry import context, labels
from apps.common.telemetry.logs import logging_config

from .conftest import APP


def test_an_app_id_is_a_label_only_when_a_loaded_extension_has_it(probe):
    assert labels.app_label(APP) == APP
    assert labels.app_label("made-up") == labels.UNKNOWN
    assert labels.app_label(None) == labels.UNKNOWN


@pytest.mark.parametrize(
    "kind, name, label",
    [
        ("tool", "work", "work"),
        ("panel", "summary", "summary"),
        ("schedule", "sweep", "sweep"),
        ("tool", "summary", labels.UNKNOWN),  # a panel is not a tool
        ("tool", "__panel__summary", labels.UNKNOWN),  # nor by the SDK's name
        ("schedule", "work", labels.UNKNOWN),
        ("tool", "made-up", labels.UNKNOWN),
        ("tool", None, labels.UNKNOWN),
    ],
)
def test_a_handler_name_is_a_label_only_when_its_extension_declares_it(
    probe, kind, name, label
):
    assert labels.handler_label(APP, kind, name) == label
    assert labels.handler_label("made-up", kind, name) == labels.UNKNOWN


def test_methods_and_routes_are_labels_only_from_fixed_sets():
    assert labels.method_label("PATCH") == "PATCH"
    assert labels.method_label("BREW") == labels.OTHER_METHOD
    assert labels.route_label(None) == labels.UNMATCHED


def calls(app, tool, outcome):
    value = REGISTRY.get_sample_value(
        "imperal_tool_calls_total", {"app": app, "tool": tool, "outcome": outcome}
    )
    return value or 0


def test_a_refused_call_is_counted_under_its_error_code(as_alice):
    before = calls(APP, "work", "invalid_params")
    answer = as_alice.call("work", {"text": 3, "extra": True})
    assert answer.status_code == 400
    assert calls(APP, "work", "invalid_params") == before + 1


def test_a_refused_call_of_a_made_up_tool_is_counted_under_unknown(as_alice):
    before = calls(APP, labels.UNKNOWN, "not_found")
    assert as_alice.call("made-up-tool").status_code == 404
    assert calls(APP, labels.UNKNOWN, "not_found") == before + 1


def test_the_response_echoes_a_sane_request_id_and_makes_one_otherwise(as_alice):
    sent = "0f8fad5b-d9cb-469f-a165-70867728950e"
    answer = as_alice.call("work", {"text": "x"}, HTTP_X_REQUEST_ID=sent)
    assert answer["X-Request-ID"] == sent
    made = as_alice.call("work", {"text": "x"}, HTTP_X_REQUEST_ID="bad\nid")
    assert made["X-Request-ID"] != "bad\nid" and len(made["X-Request-ID"]) == 32


@pytest.fixture
def log_lines():
    """Send logger "probe" to a buffer through LOG_FORMAT=json's formatter and
    filter, built from the LOGGING dict settings use; return the buffer."""
    config = logging_config("json", "INFO")
    formatter_options = dict(config["formatters"]["json"])
    formatter = import_string(formatter_options.pop("()"))(**formatter_options)
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(formatter)
    handler.addFilter(import_string(config["filters"]["request_id"]["()"])())
    logger = logging.getLogger("probe")
    logger.addHandler(handler)
    logger.propagate = False
    yield buffer
    logger.removeHandler(handler)
    logger.propagate = True


def test_a_json_line_carries_the_request_id_and_the_error_id(log_lines):
    scope, token = context.open_scope("rq-9")
    try:
        try:
            raise KeyError("boom")
        except KeyError:
            logging.getLogger("probe").exception(
                "failed", extra={"error_id": "e1", "error_kind": "internal"}
            )
    finally:
        context.close_scope(token)
    logging.getLogger("probe").info("outside")
    inside, outside = (json.loads(line) for line in log_lines.getvalue().splitlines())
    assert inside["request_id"] == "rq-9" and inside["error_id"] == "e1"
    assert inside["level"] == "ERROR" and inside["logger"] == "probe"
    assert inside["message"] == "failed" and "KeyError" in inside["exc_info"]
    assert "time" in inside
    assert outside["request_id"] is None


def test_an_unknown_log_format_is_refused_by_name():
    with pytest.raises(ImproperlyConfigured, match="LOG_FORMAT must be one of"):
        logging_config("xml", "INFO")
