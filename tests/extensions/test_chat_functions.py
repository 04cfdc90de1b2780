"""imperal-sdk chat functions: listed, called like tools with typed dispatch, refused
before the call when their params do not fit; `imperal init`'s scaffolds run unmodified."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.extensions.errors import InvalidParams
from apps.extensions.invocation import prepare_tool
from apps.extensions.sync import describe
from apps.store.models import Document

pytestmark = pytest.mark.django_db

PROBE = "tests.extensions.chat_probe"
IMPERAL = Path(sys.executable).with_name("imperal")


def call(app, name, user="alice", **params):
    return async_to_sync(prepare_tool(app, name, user, params).run)()


@pytest.fixture
def probe(use_extensions):
    return use_extensions(PROBE).get("chat-probe")


def test_a_chat_function_runs_in_a_chat_context_and_returns_its_action_result(
    probe, alice
):
    result = call("chat-probe", "add_note", title="Groceries")
    assert result["status"] == "success"
    assert result["summary"] == "Added Groceries"
    assert result["data"]["tool_type"] == "chat_fn"
    doc = Document.objects.get()
    assert (doc.user_id, doc.collection, doc.data) == (
        "alice",
        "notes",
        {"title": "Groceries", "pinned": False},
    )


@pytest.mark.parametrize(
    "params, problem",
    [
        ({}, "param 'title': missing (required)"),
        ({"title": 5}, "param 'title': Input should be a valid string"),
        ({"title": "x", "colour": "red"}, "param 'colour': unknown param"),
        ({"title": "x", "pinned": "maybe"}, "param 'pinned': Input should be a valid"),
    ],
    ids=["missing", "mistyped", "unknown", "mistyped-bool"],
)
def test_bad_params_are_refused_before_the_function_runs(probe, alice, params, problem):
    with pytest.raises(InvalidParams, match="invalid params for chat-probe.add_note"):
        try:
            prepare_tool("chat-probe", "add_note", "alice", params)
        except InvalidParams as exc:
            assert problem in str(exc)
            raise
    assert not Document.objects.exists()


def test_a_tool_shadows_a_chat_function_of_the_same_name_and_says_so(probe, alice):
    assert call("chat-probe", "count_notes") == {"from": "tool"}
    registry_errors = [str(e) for e in probe_registry_errors()]
    assert any("['count_notes'] have the name of a tool" in e for e in registry_errors)


def probe_registry_errors():
    from apps.extensions.registry import get_registry

    return get_registry().errors


def test_ext_list_shows_chat_functions_with_their_params_schema(probe):
    row = describe(probe)
    add_note = next(f for f in row["chat_functions"] if f["name"] == "add_note")
    assert add_note["action_type"] == "write"
    assert add_note["params"]["required"] == ["title"]
    assert set(add_note["params"]["properties"]) == {"title", "pinned"}


@pytest.mark.parametrize("template", ["chat", "tool"])
def test_imperal_init_scaffolds_load_unmodified_and_run(
    template, tmp_path, use_extensions, alice, capsys
):
    name = f"demo-{template}"
    subprocess.run(
        [str(IMPERAL), "init", "--template", template, name],
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    registry = use_extensions(str(tmp_path / name))
    assert registry.errors == []
    call_command("sync_extensions")
    capsys.readouterr()

    call_command("ext", "list")
    listed = {e["app_id"]: e for e in json.loads(capsys.readouterr().out)["extensions"]}
    if template == "chat":
        assert [f["name"] for f in listed[name]["chat_functions"]] == ["greet"]
        call_command(
            "ext",
            "call",
            name,
            "greet",
            "--user",
            "alice",
            "--params",
            '{"name": "Ann"}',
        )
        result = json.loads(capsys.readouterr().out)
        assert result["data"] == {"message": "Hello, Ann!"}
        with pytest.raises(CommandError, match="param 'name': Input should be"):
            call_command(
                "ext",
                "call",
                name,
                "greet",
                "--user",
                "alice",
                "--params",
                '{"name": 5}',
            )
    else:
        assert [t["name"] for t in listed[name]["tools"]] == ["demo_tool"]
        call_command("ext", "call", name, "demo_tool", "--user", "alice")
        assert json.loads(capsys.readouterr().out) == {"message": "ok"}
