"""imperal-sdk's built-in ``secrets`` panel renders each declared secret with its state and
the extension's own links; never a value."""

import json

import pytest
from asgiref.sync import async_to_sync
from imperal_sdk.secrets.panel_handler import builtin_secrets_panel_handler

from .conftest import PROBE, as_user, call, ctx_of, panel

pytestmark = pytest.mark.django_db

TOKEN = "sk-panel-51c0e2"


def cards(tree):
    """Return {title: [(node type, its text or label), …]} of the panel's cards."""
    found = {}
    for node in tree["props"]["children"]:
        if node["type"] != "Card":
            continue
        rows = node["props"]["content"]["props"]["children"]
        found[node["props"]["title"]] = [
            (
                row["type"],
                row["props"].get("content")
                or row["props"].get("label")
                or row["props"]["on_click"]["path"],
            )
            for row in rows
        ]
    return found


def test_the_panel_shows_every_declared_secret_with_its_state(vault_extensions, alice):
    as_user("api_key", TOKEN)
    call("read", name="api_key")

    tree = panel("secrets")

    header, intro = tree["props"]["children"][:2]
    assert header["props"]["text"] == f"Secrets · {PROBE}"
    assert "never visible to admins or in logs" in intro["props"]["content"]
    assert tree["props"]["children"][-1]["props"]["href"] == f"/ext/{PROBE}/secrets"
    found = cards(tree)
    assert list(found) == [
        "api_key",
        "refresh_token",
        "note",
        "client_secret",
        "fallback_secret",
    ]
    api_key = found["api_key"]
    assert api_key[:2] == [
        ("Text", "Your API key for the upstream service."),
        ("Badge", "Set"),
    ]
    assert api_key[2][0] == "Text" and api_key[2][1].startswith("Last read: ")
    assert found["refresh_token"][1:3] == [
        ("Badge", "Not set"),
        ("Text", "(extension-write only — written after authorize)"),
    ]
    buttons = {title: rows[-1] for title, rows in found.items()}
    assert buttons["api_key"] == ("Button", "Manage")
    assert buttons["note"] == ("Button", "Set value")
    rendered = json.dumps(tree, ensure_ascii=False)
    assert f"/ext/{PROBE}/secrets#note" in rendered
    assert "No secrets declared" not in rendered and "/ext//" not in rendered
    assert TOKEN not in rendered


def test_the_panel_reads_the_ctx_attributes_the_sdk_names(vault_extensions, alice):
    ctx = ctx_of(vault_extensions)
    assert ctx.ext_id == ctx.extension_id == PROBE
    assert list(ctx._declared_secrets) == [
        "api_key",
        "refresh_token",
        "note",
        "client_secret",
        "fallback_secret",
    ]


def test_the_sdks_own_handler_fails_on_an_extension_written_secret(
    vault_extensions, alice
):
    # Why the kernel serves its own rendering of this panel: imperal-sdk 6.3.7's
    # passes color= to ui.Text. When this fails, the substitute can go.
    ctx = ctx_of(vault_extensions)
    with pytest.raises(TypeError, match="unexpected keyword argument 'color'"):
        async_to_sync(builtin_secrets_panel_handler)(ctx)
