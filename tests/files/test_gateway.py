"""The storage routes in this process: the credentials they take, the one error shape,
and uploads counted as they arrive (past the limit nothing is stored)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from apps.extensions.sync import sync_extensions
from apps.gateway.tokens import issue_token

from .conftest import APP, objects, stored

pytestmark = pytest.mark.django_db
UPLOAD = "/v1/internal/storage/upload"


@pytest.fixture
def tokens(backend, alice, bob, charlie):
    sync_extensions()
    return {
        "wide": issue_token(APP).raw,
        "alice": issue_token(APP, user_id="alice").raw,
    }


def upload(token, path, data, content_type="text/plain", **headers):
    return Client().post(
        UPLOAD,
        {"path": path, "file": SimpleUploadedFile(path, data, content_type)},
        HTTP_AUTHORIZATION=f"Bearer {token}",
        **headers,
    )


def error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body["error"]) == {"code", "message", "detail"}
    assert body["error"]["code"] == code
    return body["error"]["message"]


def test_a_bound_token_uploads_into_its_users_partition(tokens):
    answer = upload(tokens["alice"], "a.txt", b"hello")
    assert answer.status_code == 201
    assert answer.json()["size"] == 5
    assert [row[2:5] for row in stored()] == [("alice", "a.txt", 5)]


def test_an_extension_wide_token_acts_only_for_a_named_user(tokens):
    message = error(upload(tokens["wide"], "a.txt", b"x"), 400, "invalid_argument")
    assert "X-Acting-User" in message
    answer = upload(tokens["wide"], "a.txt", b"x", HTTP_X_ACTING_USER="bob")
    assert answer.status_code == 201
    error(
        upload(tokens["wide"], "a.txt", b"x", HTTP_X_ACTING_USER="__system__"),
        403,
        "forbidden",
    )
    assert [row[2] for row in stored()] == ["bob"]


def test_no_credential_is_a_401(tokens):
    error(Client().get("/v1/internal/storage/list"), 401, "unauthenticated")
    error(
        Client().post(UPLOAD, {"file": SimpleUploadedFile("a", b"x" * 1000)}),
        401,
        "unauthenticated",
    )


def test_a_charset_sent_with_the_file_is_kept(tokens):
    answer = upload(tokens["alice"], "a.txt", b"x", "text/plain; charset=utf-8")
    assert answer.json()["content_type"] == "text/plain; charset=utf-8"


def test_a_path_breaking_the_rule_is_a_400_naming_it(tokens):
    message = error(upload(tokens["alice"], "../x.txt", b"x"), 400, "invalid_argument")
    assert "a '..' segment" in message
    assert stored() == [] and objects() == []


def test_an_upload_past_the_limit_is_stopped_as_it_arrives(tokens, settings):
    # The body declares less than limit + multipart overhead, so it is read; the
    # bytes are counted as they come and the upload stops past the limit.
    settings.IMPERAL_STORAGE_MAX_FILE_BYTES = 100_000
    answer = upload(tokens["alice"], "big.bin", b"x" * 120_000)
    message = error(answer, 413, "payload_too_large")
    assert "IMPERAL_STORAGE_MAX_FILE_BYTES" in message
    assert stored() == [] and objects() == []


def test_a_declared_length_past_the_limit_is_refused_unread(tokens, settings):
    settings.IMPERAL_STORAGE_MAX_FILE_BYTES = 1000
    answer = upload(tokens["alice"], "big.bin", b"x" * 200_000)
    error(answer, 413, "payload_too_large")
    assert stored() == []


def test_list_and_delete_answer_as_the_sdk_reads(tokens):
    upload(tokens["alice"], "d/a.txt", b"a")
    headers = {"HTTP_AUTHORIZATION": f"Bearer {tokens['alice']}"}
    listed = Client().get("/v1/internal/storage/list", {"prefix": "d/"}, **headers)
    assert listed.json()["files"][0]["path"] == "d/a.txt"
    assert listed.json()["total"] == 1
    gone = Client().delete("/v1/internal/storage?path=d/a.txt", **headers)
    assert gone.status_code == 200
    again = Client().delete("/v1/internal/storage?path=d/a.txt", **headers)
    error(again, 404, "not_found")
