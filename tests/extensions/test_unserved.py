"""Every imperal-sdk surface this platform does not serve fails loudly on first use,
and `ext list` and the admin show which declared features are not served."""

import json

import pytest
from asgiref.sync import async_to_sync
from django.core.management import call_command

from apps.accounts.identity import user_context
from apps.extensions.context import build_context
from apps.extensions.errors import HandlerFailed
from apps.extensions.invocation import prepare_tool
from apps.extensions.models import Extension as ExtensionRow
from apps.extensions.sync import sync_extensions
from apps.extensions.unserved import SURFACES, FeatureNotServed, SurfaceNotServed

pytestmark = pytest.mark.django_db

APP = "unserved-probe"


@pytest.fixture
def probe(use_extensions):
    loaded = use_extensions("tests.fixtures.extensions.unserved_probe").get(APP)
    sync_extensions()
    return loaded


def use(surface, user="alice"):
    return async_to_sync(prepare_tool(APP, "use", user, {"surface": surface}).run)()


@pytest.mark.parametrize("surface", sorted(SURFACES))
def test_an_unserved_surface_raises_a_clear_error_on_first_use(probe, alice, surface):
    with pytest.raises(HandlerFailed) as failed:
        use(surface)
    error = failed.value.exc
    assert type(error) is SurfaceNotServed  # not AttributeError on None
    assert str(error).startswith(f"ctx.{surface} is not served by this platform: ")
    assert SURFACES[surface] in str(error)
    assert "Served: ctx.store, ctx.cache" in str(error)


def test_no_surface_builds_a_client_for_imperal_cloud_even_with_a_gateway_url(
    probe, alice, monkeypatch
):
    # The SDK derives its lazy namespaces' gateway from this variable.
    monkeypatch.setenv("IMPERAL_GATEWAY_URL", "https://gateway.imperal.example")
    ctx = build_context(probe.ext, user_context(alice))
    for name in ("users", "apps", "rbac", "conversations", "signals"):
        with pytest.raises(SurfaceNotServed, match=f"ctx.{name} is not served"):
            getattr(ctx, name).get("x")
    with pytest.raises(SurfaceNotServed):
        ctx._gw_namespace("users", object).get("alice")
    assert type(ctx.cache).__module__ == "apps.cache.face"


def test_a_defensive_check_sees_an_absent_surface(probe, alice):
    result = async_to_sync(prepare_tool(APP, "guarded", "alice").run)()
    assert result == {"ai": False, "ai_is_none": False}


@pytest.mark.parametrize(
    "tool, kind",
    [
        ("__tray__unread", "tray item"),
        ("__menu__workspace", "menu item"),
        ("__widget__stats", "widget"),
    ],
)
def test_shell_features_are_refused_before_anything_runs(probe, alice, tool, kind):
    with pytest.raises(FeatureNotServed) as refused:
        prepare_tool(APP, tool, "alice")
    assert str(refused.value) == (
        f"extension {APP!r}: {kind} {tool!r} is not served by this platform "
        "(it is rendered by Imperal's desktop shell, which this platform has not)"
    )
    assert refused.value.code == "not_found"


def test_ext_list_and_the_admin_show_the_declared_features_not_served(
    probe, capsys, admin_client
):
    call_command("ext", "list")
    listed = json.loads(capsys.readouterr().out)["extensions"][0]
    unserved = {item["feature"]: item["names"] for item in listed["unserved"]}
    assert unserved == {
        "signal handlers (@ext.signal)": ["user.updated"],
        "event handlers (@ext.on_event)": ["deal.created"],
        "exposed methods (@ext.expose)": ["lookup"],
        "search providers (@ext.search_provider)": ["note"],
        "tray items (@ext.tray)": ["unread"],
        "menu items (@ext.menu_item)": ["workspace"],
        "widgets (@ext.widget)": ["stats"],
        "OAuth providers (@ext.oauth)": ["google"],
    }
    assert [t["name"] for t in listed["tools"]] == ["use", "guarded"]
    assert ExtensionRow.objects.get(app_id=APP).unserved == listed["unserved"]

    page = admin_client.get("/admin/extensions/extension/")
    assert page.status_code == 200
    assert b"tray items (@ext.tray)" in page.content
