"""ctx.storage's contract on both backends: files per partition, the rules checked before
any write, replace and delete leaving no orphan, listing pages, erase."""

import pytest
from imperal_sdk.types.models import FileInfo
from imperal_sdk.types.pagination import Page

from apps.accounts.models import SecurityEvent
from apps.files.core import Files
from apps.files.errors import FileMissing, FileTooLarge
from apps.files.models import StoredFile

from .conftest import objects, partition, run, storage_of, stored

pytestmark = pytest.mark.django_db


@pytest.fixture
def commits(django_capture_on_commit_callbacks):
    """Return a context manager running, at its end, what the core deferred to the
    commit (deleting replaced bytes), as a real commit would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def test_a_file_goes_in_and_comes_back_whole(backend, alice, commits):
    storage = storage_of()
    body = bytes(range(256)) * 1000

    info = run(storage.upload("notes/2026/plan.bin", body, "application/x-plan"))

    assert isinstance(info, FileInfo)
    assert (info.path, info.size, info.content_type, info.url) == (
        "notes/2026/plan.bin",
        len(body),
        "application/x-plan",
        "",
    )
    assert info.created_at.endswith("Z")
    assert run(storage.download("notes/2026/plan.bin")) == body
    row = StoredFile.objects.get()
    assert (row.tenant_id, row.app_id, row.user_id, row.path, row.size) == (
        "default",
        "files-probe",
        "alice",
        "notes/2026/plan.bin",
        len(body),
    )
    assert objects() == [row.storage_key]
    assert "plan" not in row.storage_key and "alice" not in row.storage_key


def test_an_upload_to_the_same_path_replaces_it_and_leaves_no_orphan(
    backend, alice, commits
):
    storage = storage_of()
    run(storage.upload("a.txt", b"first", "text/plain"))
    first_key = StoredFile.objects.get().storage_key

    with commits():
        info = run(storage.upload("a.txt", b"second!", "text/plain; charset=utf-8"))

    row = StoredFile.objects.get()
    assert (info.size, row.size, row.content_type) == (
        7,
        7,
        "text/plain; charset=utf-8",
    )
    assert row.storage_key != first_key
    assert objects() == [row.storage_key]
    assert run(storage.download("a.txt")) == b"second!"


def test_delete_removes_the_row_and_the_bytes(backend, alice, commits):
    storage = storage_of()
    run(storage.upload("a.txt", b"x"))

    with commits():
        assert run(storage.delete("a.txt")) is True
        assert run(storage.delete("a.txt")) is False
    assert stored() == [] and objects() == []
    with pytest.raises(FileMissing):
        run(storage.download("a.txt"))


def test_list_pages_by_path_under_a_case_sensitive_prefix(backend, alice):
    storage = storage_of()
    for name in ("docs/b.txt", "docs/a.txt", "docs/c.txt", "Docs/x.txt", "other.txt"):
        run(storage.upload(name, name.encode()))

    first = run(storage.list("docs/", limit=2))
    assert isinstance(first, Page)
    assert [f.path for f in first.data] == ["docs/a.txt", "docs/b.txt"]
    assert (first.has_more, first.total) == (True, 3)
    second = run(storage.list("docs/", limit=2, cursor=first.cursor))
    assert [f.path for f in second.data] == ["docs/c.txt"]
    assert (second.has_more, second.cursor) == (False, None)
    everything = run(storage.list())
    assert [f.size for f in everything.data] == [10, 10, 10, 10, 9]
    assert everything.total == 5


@pytest.mark.parametrize(
    "path, rule",
    [
        ("", "empty"),
        ("/etc/passwd", "a leading '/'"),
        ("../bob/a.txt", "a '..' segment"),
        ("notes/../../a.txt", "a '..' segment"),
        ("notes//a.txt", "an empty or '.' segment"),
        ("./a.txt", "an empty or '.' segment"),
        ("notes/", "an empty or '.' segment"),
        ("notes\\..\\a.txt", "a backslash"),
        ("a\x00b.txt", "a character outside the allowed set"),
        ("tab\there.txt", "a character outside the allowed set"),
        ("%2e%2e/a.txt", "a character outside the allowed set"),
        (" lead.txt", "a segment starting or ending with a space"),
        ("x" * 256, "a segment of 256 characters, over 255"),
        ("a/" * 256 + "b", "513 characters, over 512"),
    ],
)
def test_a_path_breaking_the_rule_is_refused_before_any_write(
    backend, alice, path, rule
):
    before = (stored(), objects())
    with pytest.raises(ValueError) as refused:
        run(storage_of().upload(path, b"x"))
    assert f"breaks the path rule ({rule})" in str(refused.value)
    assert (stored(), objects()) == before


def test_a_path_trick_is_recorded_as_a_security_event(backend, alice):
    with pytest.raises(ValueError):
        run(storage_of().download("../bob/a.txt"))
    event = SecurityEvent.objects.get(kind="storage_path_traversal")
    assert (event.app_id, event.user_id) == ("files-probe", "alice")


def test_unicode_names_keep_the_rule(backend, alice):
    info = run(storage_of().upload("отчёт (1).txt", b"x", "text/plain"))
    assert info.path == "отчёт (1).txt"


@pytest.mark.parametrize(
    "content_type", ["text", "text/", "text/plain;", "a b/c", "x/y\r\nSet-Cookie: a=b"]
)
def test_a_malformed_content_type_is_refused(backend, alice, content_type):
    with pytest.raises(ValueError, match="breaks the content type rule"):
        run(storage_of().upload("a.txt", b"x", content_type))
    assert stored() == [] and objects() == []


def test_the_operators_content_type_list_is_kept(backend, alice, settings):
    settings.IMPERAL_STORAGE_CONTENT_TYPES = ["image/png", "text/plain"]
    run(storage_of().upload("a.png", b"x", "image/png"))
    with pytest.raises(ValueError, match="IMPERAL_STORAGE_CONTENT_TYPES"):
        run(storage_of().upload("a.html", b"x", "text/html"))
    assert [row[3] for row in stored()] == ["a.png"]


def test_a_file_over_the_size_limit_is_refused_and_nothing_is_stored(
    backend, alice, settings
):
    settings.IMPERAL_STORAGE_MAX_FILE_BYTES = 1000
    run(storage_of().upload("fits.bin", b"x" * 1000))
    before = (stored(), objects())
    with pytest.raises(FileTooLarge, match="over the limit of 1000 bytes"):
        run(storage_of().upload("big.bin", b"x" * 1001))
    assert (stored(), objects()) == before


def test_data_must_be_bytes(backend, alice):
    with pytest.raises(TypeError, match="data must be bytes"):
        run(storage_of().upload("a.txt", "text"))
    assert stored() == []


def test_a_bad_cursor_or_limit_is_refused(backend, alice):
    with pytest.raises(ValueError, match="cursor"):
        run(storage_of().list(cursor="!!not-a-cursor"))
    with pytest.raises(ValueError, match="limit must be between 1 and 1000"):
        run(storage_of().list(limit=0))


def test_erase_removes_every_file_of_the_partition_only(backend, alice, bob, commits):
    run(storage_of("alice").upload("a.txt", b"a"))
    run(storage_of("alice").upload("b/c.txt", b"c"))
    run(storage_of("bob").upload("a.txt", b"bob's"))

    with commits():
        assert Files().erase(partition("alice")) == 2

    assert [row[2:4] for row in stored()] == [("bob", "a.txt")]
    assert len(objects()) == 1
    assert run(storage_of("bob").download("a.txt")) == b"bob's"
