"""The console lists a partition's files (name, size, type, date) to operators who may
view partitions; only those who also hold files.view_storedfile download one, and the
download is recorded with their name."""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from apps.accounts.models import User
from apps.api.models import OperatorAction

from .conftest import APP, run, storage_of

pytestmark = pytest.mark.django_db
VIEW = "store.view_document"
DOWNLOAD = "files.view_storedfile"
PAGE = f"/admin/console/partitions/{APP}/alice/files/"


def operator(name, *permissions):
    user = User.objects.create(username=name, imperal_id=name, is_staff=True)
    for dotted in permissions:
        label, codename = dotted.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=label, codename=codename)
        )
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def files(backend, alice, charlie):
    run(storage_of("alice").upload("notes/plan.txt", b"alice's plan", "text/plain"))
    run(storage_of("alice").upload("photo.png", b"\x89PNG" + b"0" * 2048, "image/png"))
    run(storage_of("charlie").upload("charlie.txt", b"c", "text/plain"))


def test_the_files_page_lists_the_partitions_files_only(files):
    page = operator("olga", VIEW).get(PAGE)
    text = page.content.decode()
    assert page.status_code == 200
    assert "notes/plan.txt" in text and "photo.png" in text
    assert "image/png" in text and "2.0\xa0KB" in text
    assert "charlie.txt" not in text
    assert "needs the permission <code>files.view_storedfile</code>" in text
    assert "files/download/" not in text


def test_the_partition_page_counts_files(files):
    page = operator("olga", VIEW).get(f"/admin/console/partitions/{APP}/alice/")
    assert page.status_code == 200
    assert f'href="{PAGE}">2</a>' in page.content.decode()


def test_an_operator_with_the_permission_downloads_and_is_recorded(files):
    olga = operator("olga", VIEW, DOWNLOAD)
    assert "files/download/?path=notes%2Fplan.txt" in olga.get(PAGE).content.decode()

    answer = olga.get(PAGE + "download/", {"path": "notes/plan.txt"})

    assert b"".join(answer.streaming_content) == b"alice's plan"
    assert answer["Content-Disposition"].startswith("attachment;")
    action = OperatorAction.objects.get()
    assert (action.operator, action.user_id, action.detail["file"]) == (
        "olga",
        "alice",
        "notes/plan.txt",
    )


def test_without_the_permission_a_download_is_refused(files):
    answer = operator("olga", VIEW).get(PAGE + "download/", {"path": "notes/plan.txt"})
    assert answer.status_code == 403
    assert not OperatorAction.objects.exists()


def test_a_missing_or_tricky_path_is_a_not_found_page(files):
    olga = operator("olga", VIEW, DOWNLOAD)
    for path in ("nope.txt", "../charlie/charlie.txt", "charlie.txt"):
        assert olga.get(PAGE + "download/", {"path": path}).status_code == 404
