"""A user's files in their data: the summary counts them, the export lists them with the
path that downloads their bytes, erase removes them (rows and bytes), and no one else's
file is reachable through these routes."""

import json

import pytest

from apps.accounts.models import User
from tests.api.conftest import Api, token_for

from .conftest import APP, objects, run, storage_of, stored

pytestmark = pytest.mark.django_db


@pytest.fixture
def files(backend, alice, bob, charlie):
    run(storage_of("alice").upload("notes/plan.txt", b"alice's plan", "text/plain"))
    run(storage_of("alice").upload("page.html", b"<script>x</script>", "text/html"))
    run(storage_of("bob").upload("notes/plan.txt", b"bob's plan", "text/plain"))


def api(user):
    return Api(token_for(User.objects.get(imperal_id=user)))


def download(user, path, app=APP):
    response = api(user).get(f"/api/v1/me/files/{app}", data={"path": path})
    body = b"".join(response.streaming_content) if response.streaming else b""
    return response, body


def test_my_data_counts_my_files(files):
    mine = api("alice").get("/api/v1/me/data").json()
    (entry,) = [e for e in mine["extensions"] if e["app_id"] == APP]
    assert (entry["files"], entry["file_bytes"]) == (2, 12 + 18)


def test_the_export_lists_my_files_and_their_bytes_download(files):
    response = api("alice").get("/api/v1/me/data/export")
    exported = json.loads(b"".join(response.streaming_content))
    listed = {f["path"]: f for f in exported["files"]}
    assert set(listed) == {"notes/plan.txt", "page.html"}
    plan = listed["notes/plan.txt"]
    assert (plan["app_id"], plan["size"], plan["content_type"]) == (
        APP,
        12,
        "text/plain",
    )
    answer = api("alice").get(plan["download"])
    assert b"".join(answer.streaming_content) == b"alice's plan"


def test_a_downloaded_file_is_never_rendered_by_the_browser(files):
    response, body = download("alice", "page.html")
    assert body == b"<script>x</script>"
    assert response["Content-Disposition"].startswith(
        'attachment; filename="page.html"'
    )
    assert response["X-Content-Type-Options"] == "nosniff"


def test_an_outsider_downloads_only_their_own_files(files):
    response, _ = download("charlie", "notes/plan.txt")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    response, body = download("bob", "notes/plan.txt")
    assert body == b"bob's plan"
    response, _ = download("charlie", "../alice/notes/plan.txt")
    assert response.status_code == 400


def test_erase_removes_my_files_and_leaves_the_others(
    files, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        erased = api("alice").delete(f"/api/v1/me/data?extension={APP}").json()
    assert erased["files_deleted"] == 2
    assert [row[2:4] for row in stored()] == [("bob", "notes/plan.txt")]
    assert len(objects()) == 1
