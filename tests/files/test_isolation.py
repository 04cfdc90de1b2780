"""No file is reachable from another partition: an outsider (another user, or the same
user in another extension) cannot read, list or delete it by any path trick."""

import pytest

from apps.files.errors import FileMissing
from apps.files.models import StoredFile

from .conftest import objects, run, storage_of, stored

pytestmark = pytest.mark.django_db

SECRET = b"alice's private notes"
TRICKS = [
    "notes/plan.txt",  # the same path, from another partition
    "../alice/notes/plan.txt",
    "../../files-probe/alice/notes/plan.txt",
    "/notes/plan.txt",
    "notes/./plan.txt",
    "notes//plan.txt",
    "notes\\plan.txt",
    "NOTES/PLAN.TXT",
    "notes/plan.txt\x00",
    "%2e%2e/alice/notes/plan.txt",
]


@pytest.fixture
def alices_file(backend, alice, bob, charlie):
    run(storage_of("alice").upload("notes/plan.txt", SECRET, "text/plain"))
    return StoredFile.objects.get()


def outsiders():
    """Charlie in the same extension; alice herself in another extension."""
    return [storage_of("charlie"), storage_of("alice", app="other-probe")]


@pytest.mark.parametrize("path", TRICKS)
def test_an_outsider_cannot_read_alices_file(alices_file, path):
    for outsider in outsiders():
        with pytest.raises((FileMissing, ValueError)):
            run(outsider.download(path))


def test_the_storage_key_is_not_a_path_to_the_file(alices_file):
    with pytest.raises((FileMissing, ValueError)):
        run(storage_of("charlie").download(alices_file.storage_key))


@pytest.mark.parametrize("prefix", ["", "notes/", "notes", "../alice/", "n"])
def test_an_outsider_lists_nothing_of_alices(alices_file, prefix):
    for outsider in outsiders():
        try:
            page = run(outsider.list(prefix))
        except ValueError:
            continue
        assert (page.data, page.total) == ([], 0)


@pytest.mark.parametrize("path", TRICKS)
def test_an_outsider_cannot_delete_alices_file(alices_file, path, commits):
    before = (stored(), objects())
    for outsider in outsiders():
        try:
            with commits():
                assert run(outsider.delete(path)) is False
        except ValueError:
            pass
    assert (stored(), objects()) == before
    assert run(storage_of("alice").download("notes/plan.txt")) == SECRET


def test_an_outsider_writing_the_same_path_writes_its_own_file(alices_file):
    run(storage_of("charlie").upload("notes/plan.txt", b"charlie's", "text/plain"))
    assert run(storage_of("alice").download("notes/plan.txt")) == SECRET
    assert run(storage_of("charlie").download("notes/plan.txt")) == b"charlie's"
    assert StoredFile.objects.count() == 2


@pytest.fixture
def commits(django_capture_on_commit_callbacks):
    return lambda: django_capture_on_commit_callbacks(execute=True)
