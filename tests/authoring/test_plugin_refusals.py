"""The plugin refuses what the platform refuses, and the stored state shows it."""

import pytest
from pydantic import BaseModel

from apps.accounts.ids import InvalidUserId
from apps.accounts.models import SecurityEvent, User
from apps.extensions.errors import InvalidParams
from apps.store.errors import DocumentNotFound
from apps.store.models import Document
from imperal_platform.testing import ExtensionLoadFailed

from .conftest import PUBLIC_SHAPED


@pytest.fixture
def notes(imperal):
    imperal.load(PUBLIC_SHAPED)
    return imperal


def summary_model(notes):
    return notes.extension().ext._cache_models["note_summary"]


def test_it_rejects_a_ttl_of_301(notes):
    ctx, model = notes.ctx("alice"), summary_model(notes)
    notes.run(ctx.cache.set("summary", model(total=1, pinned=0), ttl_seconds=60))
    with pytest.raises(ValueError, match=r"\[5, 300\], got 301 \(I-CACHE-TTL-CAP"):
        notes.run(ctx.cache.set("summary", model(total=2, pinned=0), ttl_seconds=301))
    assert notes.run(ctx.cache.get("summary", model)) == model(total=1, pinned=0)


def test_it_rejects_an_unregistered_cache_model(notes):
    class Unregistered(BaseModel):
        total: int

    ctx = notes.ctx("alice")
    with pytest.raises(ValueError, match="Unregistered.*not registered"):
        notes.run(ctx.cache.set("summary", Unregistered(total=1), ttl_seconds=60))
    with pytest.raises(ValueError, match="not registered"):
        notes.run(ctx.cache.get("summary", Unregistered))


def test_it_refuses_list_users_outside_the_system_context_and_records_it(notes):
    notes.call("add_note", {"title": "Heron"}, user="bob")
    ctx = notes.ctx("alice")

    async def enumerate_users():
        return [uid async for uid in ctx.store.list_users("notes")]

    with pytest.raises(RuntimeError, match="system context"):
        notes.run(enumerate_users())
    event = SecurityEvent.objects.get(kind="list_users_from_user_context")
    assert (event.app_id, event.user_id) == ("field-notes", "alice")


def test_outsider_cannot_read_or_write_by_a_known_id(notes):
    note_id = notes.call("add_note", {"title": "Heron"})["id"]
    outsider = notes.ctx("charlie")

    assert notes.run(outsider.store.get("notes", note_id)) is None
    with pytest.raises(DocumentNotFound):
        notes.call("pin_note", {"note_id": note_id}, user="charlie")
    doc = Document.objects.get(doc_id=note_id)
    assert (doc.user_id, doc.data["pinned"]) == ("alice", False)


def test_bad_params_are_refused_before_the_tool_runs(notes):
    with pytest.raises(InvalidParams, match="param 'title': missing"):
        notes.call("add_note", {"tags": ["x"]})
    assert not Document.objects.exists()


def test_a_broken_entry_fails_the_load_naming_it(imperal, tmp_path):
    broken = tmp_path / "broken_ext"
    broken.mkdir()
    (broken / "main.py").write_text("import does_not_exist_anywhere\n")
    with pytest.raises(ExtensionLoadFailed, match=r"broken_ext.*does_not_exist"):
        imperal.load(broken)


def test_the_clock_only_moves_forward(imperal):
    before = imperal.clock.now()
    with pytest.raises(ValueError, match=">= 0"):
        imperal.advance(-1)
    assert imperal.clock.now() == before
    assert (imperal.advance(90) - before).total_seconds() == 90


@pytest.mark.parametrize("uid", ["a/b", "two words", "<b>x</b>", "a" * 5000])
def test_it_refuses_a_malformed_user_id_on_every_harness_path(notes, uid):
    with pytest.raises(InvalidUserId, match="a user id is a string of 1-128"):
        notes.ctx(uid)
    with pytest.raises(InvalidUserId, match="a user id is a string of 1-128"):
        notes.call("add_note", {"title": "Heron"}, user=uid)
    with pytest.raises(InvalidUserId, match="a user id is a string of 1-128"):
        notes.system_ctx().as_user(uid)
    assert not User.objects.filter(imperal_id=uid).exists()
    assert not Document.objects.exists()
