"""An extension laid out like a public Imperal extension repository, through the plugin."""

import pytest

from apps.scheduler.models import ScheduleRun
from apps.store.models import Document

from .conftest import PUBLIC_SHAPED


@pytest.fixture
def notes(imperal):
    imperal.load(PUBLIC_SHAPED)
    return imperal


def test_it_loads_from_a_directory_entry_with_every_handler(notes):
    loaded = notes.extension()
    assert loaded.app_id == "field-notes"
    assert loaded.root == PUBLIC_SHAPED
    assert set(loaded.tools()) == {"add_note", "pin_note"}
    assert set(loaded.chat_functions()) == {"find_notes"}
    assert set(loaded.panels()) == {"summary"}
    assert set(loaded.skeleton_sections()) == {"notes"}
    assert set(loaded.ext.schedules) == {"morning_digest"}


def test_its_tools_and_chat_function_run_as_the_platform_runs_them(notes):
    first = notes.call("add_note", {"title": "Heron", "tags": ["birds"]})["id"]
    notes.call("add_note", {"title": "Alder", "tags": ["trees", "birds"]})
    notes.call("add_note", {"title": "Oak", "tags": ["trees"]}, user="bob")

    assert notes.call("pin_note", {"note_id": first}) == {"id": first, "pinned": True}
    found = notes.call("find_notes", {"tag": "birds"})
    assert found["status"] == "success"
    assert found["data"] == {"titles": ["Alder", "Heron"]}
    stored = Document.objects.filter(app_id="field-notes", user_id="alice")
    assert sorted(stored.values_list("data__title", flat=True)) == ["Alder", "Heron"]


def test_its_panel_reads_through_the_cache_until_the_ttl_passes(notes):
    notes.call("add_note", {"title": "Heron"})
    assert notes.panel("summary") == {"total": 1, "pinned": 0}
    notes.call("add_note", {"title": "Wren"})
    assert notes.panel("summary") == {"total": 1, "pinned": 0}  # cached
    notes.advance(61)
    assert notes.panel("summary") == {"total": 2, "pinned": 0}


def test_its_skeleton_section_is_refreshed_on_its_ttl(notes):
    notes.call("add_note", {"title": "Heron"})
    assert notes.skeleton("notes") == {"total": 1}
    notes.call("add_note", {"title": "Wren"})
    assert notes.skeleton("notes") == {"total": 1}
    notes.advance(60)
    assert notes.skeleton("notes") == {"total": 2}


def test_its_schedule_fans_out_with_list_users_and_as_user(notes):
    notes.call("add_note", {"title": "Heron"})
    notes.call("add_note", {"title": "Wren"})
    notes.call("add_note", {"title": "Oak"}, user="bob")
    notes.user("charlie")

    run = notes.fire("morning_digest")

    assert (run.status, run.result, run.users_fanned_out) == (
        "success",
        {"reached": 2},
        2,
    )
    assert ScheduleRun.objects.filter(app_id="field-notes").count() == 1
    assert notes.notifications("alice") == ["You have 2 field note(s)."]
    assert notes.notifications("bob") == ["You have 1 field note(s)."]
    assert notes.notifications("charlie") == []


async def test_async_tests_run_through_the_plugin_with_the_a_variants(notes):
    note = await notes.acall("add_note", {"title": "Heron", "tags": ["birds"]})
    assert await notes.apanel("summary") == {"total": 1, "pinned": 0}
    ctx = await notes.actx("alice")
    assert (await ctx.store.get("notes", note["id"])).data["title"] == "Heron"
    run = await notes.afire("morning_digest")
    assert run.result == {"reached": 1}
