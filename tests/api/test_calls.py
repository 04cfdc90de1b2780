"""Tools and panels through the API: the path of `ext call`, its refusals and failures."""

import io
import json
import logging

import pytest
from django.core.management import call_command

from apps.extensions.models import Extension as ExtensionRow
from apps.notifications.models import Notification
from apps.store.models import Document

from .conftest import error_of

pytestmark = pytest.mark.django_db
TOOL = "/api/v1/extensions/{app}/tools/{tool}/call"


def ext_call(app, tool, user, params):
    out = io.StringIO()
    call_command(
        "ext",
        "call",
        app,
        tool,
        "--user",
        user,
        "--params",
        json.dumps(params),
        stdout=out,
    )
    return json.loads(out.getvalue())


def test_a_tool_call_returns_what_ext_call_returns(as_alice):
    params = {"name": "Ada", "times": 2}
    response = as_alice.post(TOOL.format(app="probe", tool="greet"), {"params": params})
    assert response.status_code == 200
    assert response.json() == {"result": ext_call("probe", "greet", "alice", params)}
    # Both ran as alice: two notifications each, all hers.
    assert list(Notification.objects.values_list("user_id", flat=True)) == ["alice"] * 4


def test_a_tool_writes_in_the_callers_own_partition(as_alice):
    response = as_alice.post(
        TOOL.format(app="api-probe", tool="remember"), {"params": {"text": "hi"}}
    )
    assert response.json()["result"]["user"] == "alice"
    doc = Document.objects.get()
    assert (doc.app_id, doc.user_id, doc.data) == ("api-probe", "alice", {"text": "hi"})


@pytest.mark.parametrize(
    "params, fragment",
    [
        ({"times": 1}, "param 'name': missing"),
        ({"name": "Ada", "times": "many"}, "param 'times'"),
        ({"name": "Ada", "loud": True}, "param 'loud': unknown param"),
    ],
)
def test_a_bad_param_is_a_400_naming_it_and_the_handler_never_ran(
    as_alice, params, fragment
):
    response = as_alice.post(TOOL.format(app="probe", tool="greet"), {"params": params})
    error = error_of(response, 400)
    assert error["code"] == "invalid_params"
    assert fragment in error["message"]
    assert Notification.objects.count() == 0


def test_params_that_are_not_an_object_are_a_400(as_alice):
    response = as_alice.post(TOOL.format(app="probe", tool="greet"), {"params": [1]})
    error = error_of(response, 400)
    assert "params" in error["detail"]["fields"]
    assert Notification.objects.count() == 0


@pytest.mark.parametrize(
    "app, tool, fragment",
    [
        ("nope", "greet", "unknown extension 'nope'"),
        ("probe", "nope", "has no tool 'nope'"),
    ],
)
def test_an_unknown_app_or_tool_is_a_404(as_alice, app, tool, fragment):
    error = error_of(as_alice.post(TOOL.format(app=app, tool=tool), {}), 404)
    assert error["code"] == "not_found" and fragment in error["message"]


def test_a_disabled_extension_is_a_409_and_nothing_ran(as_alice):
    ExtensionRow.objects.update_or_create(app_id="probe", defaults={"enabled": False})
    response = as_alice.post(
        TOOL.format(app="probe", tool="greet"), {"params": {"name": "Ada"}}
    )
    assert error_of(response, 409)["code"] == "extension_disabled"
    assert Notification.objects.count() == 0


def test_a_raising_handler_is_a_500_with_an_error_id_in_the_log(as_alice, caplog):
    with caplog.at_level(logging.ERROR, logger="imperal.http"):
        response = as_alice.post(TOOL.format(app="api-probe", tool="leak"), {})
    error = error_of(response, 500)
    assert error["code"] == "handler_failed"
    error_id = error["detail"]["error_id"]
    assert error_id in error["message"]
    body = response.content.decode()
    assert "Traceback" not in body and "hunter2" not in body
    logged = [r for r in caplog.records if error_id in r.getMessage()]
    assert len(logged) == 1 and logged[0].exc_info is not None
    assert "password=hunter2" in logged[0].getMessage()


def test_a_handler_past_its_timeout_is_a_504(as_alice, settings):
    settings.IMPERAL_HANDLER_TIMEOUTS = {"api-probe": 0.2}
    response = as_alice.post(
        TOOL.format(app="api-probe", tool="slow"), {"params": {"seconds": 5}}
    )
    error = error_of(response, 504)
    assert error["code"] == "timeout" and "IMPERAL_HANDLER_TIMEOUT" in error["message"]


def test_a_panel_renders_for_the_caller(as_alice):
    response = as_alice.post(
        "/api/v1/extensions/probe/panels/summary/call", {"params": {"limit": 7}}
    )
    assert response.json() == {"result": {"limit": 7, "user": "alice"}}


def test_the_listing_shows_enabled_extensions_with_params_schemas(as_alice):
    ExtensionRow.objects.update_or_create(
        app_id="contacts", defaults={"enabled": False}
    )
    listing = {
        e["app_id"]: e for e in as_alice.get("/api/v1/extensions").json()["extensions"]
    }
    assert set(listing) == {"api-probe", "probe"}
    greet = next(t for t in listing["probe"]["tools"] if t["name"] == "greet")
    assert greet["params"]["required"] == ["name"]
    assert listing["probe"]["panels"][0]["panel_id"] == "summary"
    assert {"name": "observe", "cron": "*/5 * * * *"} in listing["probe"]["schedules"]
