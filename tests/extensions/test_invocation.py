"""Invoking tools and panels: params validated before the handler, results as JSON."""

import pytest
from asgiref.sync import async_to_sync

from apps.extensions.errors import (
    ExtensionDisabled,
    ExtensionNotFound,
    HandlerFailed,
    HandlerNotFound,
    InvalidParams,
    UserNotFound,
)
from apps.extensions.invocation import prepare_panel, prepare_tool
from apps.extensions.models import Extension as ExtensionRow
from apps.extensions.sync import sync_extensions
from apps.notifications.models import Notification


@pytest.fixture
def probe(use_extensions, db):
    registry = use_extensions("tests.fixtures.extensions.probe")
    sync_extensions(registry)
    return registry.get("probe").ext


def call(app, tool, user, params=None):
    return async_to_sync(prepare_tool(app, tool, user, params).run)()


def test_a_tool_gets_its_params_and_returns_json(probe, alice):
    assert call("probe", "greet", "alice", {"name": "Bob", "times": 2}) == {
        "greeted": "Bob",
        "times": 2,
    }
    assert Notification.objects.filter(user_id="alice", app_id="probe").count() == 2


def test_defaults_apply_to_omitted_params(probe, alice):
    assert call("probe", "greet", "alice", {"name": "Bob"})["times"] == 1


@pytest.mark.parametrize(
    "params, param, rule",
    [
        ({}, "name", "missing (required)"),
        ({"name": "x", "times": "many"}, "times", "valid integer"),
        ({"name": 5}, "name", "valid string"),
        ({"name": "x", "colour": "red"}, "colour", "unknown param"),
    ],
)
def test_bad_params_are_refused_before_the_handler_runs(
    probe, alice, params, param, rule
):
    with pytest.raises(InvalidParams) as caught:
        prepare_tool("probe", "greet", "alice", params)
    message = str(caught.value)
    assert f"param {param!r}" in message
    assert rule in message
    assert "\n" not in message
    assert Notification.objects.count() == 0


def test_params_that_are_not_an_object_are_refused(probe, alice):
    with pytest.raises(InvalidParams, match="must be a JSON object"):
        prepare_tool("probe", "greet", "alice", ["x"])


def test_a_pydantic_params_model_is_validated_and_passed_whole(probe, alice):
    assert call("probe", "order", "alice", {"sku": "A1", "quantity": 3}) == {
        "sku": "A1",
        "quantity": 3,
    }
    with pytest.raises(InvalidParams, match="'quantity'"):
        prepare_tool("probe", "order", "alice", {"sku": "A1", "quantity": "lots"})


def test_a_handler_with_kwargs_accepts_any_params(probe, alice):
    assert call("probe", "anything", "alice", {"x": 1, "y": [2]}) == {
        "received": {"x": 1, "y": [2]}
    }


def test_unknown_extension_tool_and_user_are_refused(probe, alice):
    with pytest.raises(ExtensionNotFound, match="unknown extension 'nope'"):
        prepare_tool("nope", "greet", "alice")
    with pytest.raises(HandlerNotFound, match="has no tool 'nope'.*greet"):
        prepare_tool("probe", "nope", "alice")
    with pytest.raises(UserNotFound, match="unknown user 'zed'"):
        prepare_tool("probe", "greet", "zed", {"name": "x"})


def test_panels_are_not_callable_as_tools(probe, alice):
    with pytest.raises(HandlerNotFound):
        prepare_tool("probe", "__panel__summary", "alice")


def test_a_disabled_extension_refuses_to_run(probe, alice):
    ExtensionRow.objects.filter(app_id="probe").update(enabled=False)
    with pytest.raises(ExtensionDisabled, match="disabled by an operator"):
        prepare_tool("probe", "greet", "alice", {"name": "x"})
    assert Notification.objects.count() == 0


def test_a_handler_that_raises_is_reported_with_its_error(probe, alice):
    with pytest.raises(HandlerFailed, match="probe.explode failed: ValueError: boom"):
        call("probe", "explode", "alice")


def test_the_context_carries_user_tenant_and_merged_config(probe, alice, settings):
    settings.IMPERAL_EXTENSION_CONFIG = {"probe": {"limits": {"max_items": 9}}}
    result = call("probe", "context", "alice")
    assert result == {
        "user": "alice",
        "id": "alice",
        "tenant": "default",
        "config_max": 9,
        "config_greeting": "hi",
        "tool_type": "tool",
    }


def test_a_panel_runs_with_validated_params(probe, alice):
    run = prepare_panel("probe", "summary", "alice", {"limit": 7}).run
    assert async_to_sync(run)() == {"limit": 7, "user": "alice"}
    with pytest.raises(InvalidParams, match="'limit'"):
        prepare_panel("probe", "summary", "alice", {"limit": "x"})
    with pytest.raises(HandlerNotFound, match="has no panel 'nope'"):
        prepare_panel("probe", "nope", "alice")
