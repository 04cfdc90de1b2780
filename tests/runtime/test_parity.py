"""One set of calls, run in-process and isolated: each answers the same, stores the same."""

import pytest
from asgiref.sync import async_to_sync

from apps.extensions.errors import HandlerFailed, InvalidParams
from apps.extensions.invocation import prepare_panel, prepare_tool
from apps.extensions.models import Extension as ExtensionRow
from apps.extensions.sync import sync_extensions
from apps.notifications.models import Notification
from apps.store.models import Document

from .conftest import APP, ENTRY

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
BOTH = pytest.mark.parametrize("runtime", ["in-process", "isolated"], indirect=True)


def call(app_id, name, user, params=None):
    return async_to_sync(prepare_tool(app_id, name, user, params).run)()


def notes_of(user_id):
    return Document.objects.in_partition("default", APP, user_id).filter(
        collection="notes"
    )


@BOTH
def test_a_tool_answers_and_stores_the_same(runtime, alice, bob):
    result = call(APP, "remember", "alice", {"title": "milk", "times": 2})
    assert result == {
        "id_len": 32,
        "title": "milk",
        "count": 2,
        "user": "alice",
        "tenant": "default",
        "greeting": "hello",
        "tool_type": "tool",
    }
    assert sorted(d.data["title"] for d in notes_of("alice")) == ["milk", "milk"]
    assert not notes_of("bob").exists()
    sent = Notification.objects.filter(app_id=APP, user_id="alice")
    assert [n.message for n in sent] == ["remembered milk"]


@BOTH
def test_a_failing_tool_fails_the_same(runtime, alice):
    with pytest.raises(HandlerFailed) as failed:
        call(APP, "fail", "alice", {"why": "no milk"})
    assert str(failed.value) == "runtime-probe.fail failed: ValueError: no milk"
    assert failed.value.code == "handler_failed"


@BOTH
def test_bad_params_are_refused_before_anything_runs(runtime, alice):
    with pytest.raises(InvalidParams):
        call(APP, "remember", "alice", {"title": "x", "times": "many"})
    assert not notes_of("alice").exists()


@BOTH
def test_a_panel_renders_the_same(runtime, alice):
    call(APP, "remember", "alice", {"title": "a"})
    panel = async_to_sync(prepare_panel(APP, "summary", "alice", {"limit": 3}).run)()
    text = panel["ui"]["props"]["children"][0]["props"]["content"]
    assert text == "1 notes (limit 3)"


@BOTH
def test_a_chat_function_answers_the_same(runtime, alice):
    result = call(APP, "add_note", "alice", {"title": "t", "pinned": True})
    assert result["status"] == "success"
    assert result["data"] == {"title": "t", "pinned": True, "id_len": 32}
    assert [d.data for d in notes_of("alice")] == [{"title": "t", "pinned": True}]


@BOTH
def test_the_extension_row_says_where_it_runs(runtime):
    sync_extensions()
    assert ExtensionRow.objects.get(app_id=APP).runtime == runtime


@BOTH
def test_the_webhook_url_is_this_platforms_in_both_runtimes(runtime, settings, alice):
    settings.PUBLIC_URL = "https://platform.example"
    answer = call(APP, "webhook_url", "alice", {"path": "/inbound"})
    assert answer["url"] == f"https://platform.example/v1/ext/{APP}/webhook/inbound"


def test_a_store_refusal_raises_the_same_error_in_both_runtimes(
    settings, use_extensions, isolated_server, alice
):
    settings.IMPERAL_HANDLER_TIMEOUTS = {APP: 15}
    use_extensions(ENTRY)
    answers = {}
    for runtime in ("in-process", "isolated"):
        settings.IMPERAL_EXTENSION_RUNTIME = {APP: runtime}
        Document.objects.filter(collection="refusals").delete()
        answers[runtime] = call(APP, "store_refusals", "alice")

    assert answers["isolated"] == answers["in-process"]
    refusals = answers["isolated"]
    assert refusals["duplicate"]["raised"] == "DocumentExists"
    assert refusals["missing"]["raised"] == "DocumentNotFound"
    assert "LookupError" in refusals["missing"]["catches"]
    assert "ValueError" in refusals["bad collection"]["catches"]
    assert "StoreConflict" in refusals["stale etag"]["catches"]
