"""imperal-sdk 6.3.7's own StorageClient and AIClient against the production server
(scripts/serve.sh) on a loopback port, unchanged: files on both storage backends (a
folder, and a local S3-compatible server), isolation over the wire, completions from a
fake OpenAI-compatible provider on loopback, metered by the server."""

import http.client
import json
import uuid

import boto3
import httpx
import pytest
from asgiref.sync import async_to_sync
from imperal_sdk.ai.client import AIClient, CompletionResult
from imperal_sdk.storage.client import StorageClient
from imperal_sdk.types.models import FileInfo

from apps.accounts.partition import Partition
from apps.ai.models import AICall
from apps.extensions.sync import sync_extensions
from apps.files.face import StorageFace
from apps.files.models import StoredFile
from apps.gateway.tokens import issue_token
from tests.ai.conftest import API_KEY, MODEL
from tests.ai.fake_openai import FakeOpenAI
from tests.files.conftest import s3_backend, s3_server  # noqa: F401 (a fixture)
from tests.gateway.conftest import call_token

from .server import LiveServer

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
APP = "ai-probe"
ENTRY = "tests.ai.ai_probe"
BIG = bytes(range(256)) * (20 * 1024)  # 5 MB: over Django's in-memory upload size


@pytest.fixture(scope="module")
def fake():
    server = FakeOpenAI()
    yield server
    server.stop()


@pytest.fixture(scope="module", params=["filesystem", "s3"])
def server(request, django_db_setup, django_db_blocker, tmp_path_factory, fake):
    """The production server on one storage backend, with the fake as its provider."""
    folder = tmp_path_factory.mktemp("files")
    if request.param == "filesystem":
        storage = {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(folder)},
        }
        env = {"IMPERAL_STORAGE_DIR": str(folder)}
    else:
        endpoint = request.getfixturevalue("s3_server")
        bucket = f"imperal-live-{uuid.uuid4().hex[:8]}"
        boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        ).create_bucket(Bucket=bucket)
        storage = s3_backend(endpoint, bucket)
        env = {
            "IMPERAL_STORAGE_BACKEND": "s3",
            "IMPERAL_STORAGE_OPTIONS": json.dumps(storage["OPTIONS"]),
        }
    env.update(
        LLM_PROVIDER="openai_compatible",
        LLM_BASE_URL=fake.base_url,
        LLM_MODEL=MODEL,
        LLM_API_KEY=API_KEY,
        IMPERAL_AI_MAX_RETRIES="0",
    )
    live = LiveServer(
        tmp_path_factory.mktemp("server"), extensions=ENTRY, env=env
    ).start()
    live.storage = storage
    yield live
    live.stop()
    assert "/v1/internal/storage/upload" in live.log()
    assert "Monday" not in live.log()  # no prompt in the server's log


@pytest.fixture
def registry(use_extensions, settings, server):
    settings.STORAGES = {**settings.STORAGES, "extfiles": server.storage}
    registry = use_extensions(ENTRY)
    sync_extensions(registry)
    return registry


def storage_client(server, token, **kwargs):
    return StorageClient(server.url, auth_token=token, extension_id=APP, **kwargs)


def run(function, *args, **kwargs):
    return async_to_sync(function)(*args, **kwargs)


def test_the_sdks_storage_client_uploads_lists_downloads_and_deletes(
    server, registry, alice
):
    files = storage_client(server, call_token(APP, "alice"))

    info = run(files.upload, "notes/plan.txt", b"plan", "text/plain")
    big = run(files.upload, "video/big.bin", BIG)
    page = run(files.list, "notes/")

    assert isinstance(info, FileInfo) and info.size == 4 and info.created_at
    assert big.size == len(BIG)
    assert [(f.path, f.size, f.content_type) for f in page.data] == [
        ("notes/plan.txt", 4, "text/plain")
    ]
    assert (page.has_more, page.total) == (False, 1)
    assert run(files.download, "video/big.bin") == BIG
    # What went over the wire is what ctx.storage holds.
    face = StorageFace(Partition("default", APP, "alice"))
    assert run(face.download, "notes/plan.txt") == b"plan"
    assert run(files.delete, "notes/plan.txt") is True
    assert run(files.delete, "notes/plan.txt") is False
    with pytest.raises(httpx.HTTPStatusError) as missing:
        run(files.download, "notes/plan.txt")
    assert missing.value.response.status_code == 404
    assert missing.value.response.json()["error"]["code"] == "not_found"


def test_a_bound_service_token_works_as_the_sdk_sends_it(server, registry, bob):
    token = issue_token(APP, user_id="bob").raw
    files = storage_client(server, token)
    run(files.upload, "a.txt", b"bob's")
    assert run(files.download, "a.txt") == b"bob's"
    assert StoredFile.objects.get().user_id == "bob"


def test_an_outsider_reaches_no_file_of_alices_over_the_wire(
    server, registry, alice, charlie
):
    run(storage_client(server, call_token(APP, "alice")).upload, "secret.txt", b"s")
    before = list(StoredFile.objects.values_list("user_id", "path", "storage_key"))
    charlies = storage_client(server, call_token(APP, "charlie"))
    for path in ("secret.txt", "../alice/secret.txt", "/secret.txt", before[0][2]):
        with pytest.raises(httpx.HTTPStatusError) as refused:
            run(charlies.download, path)
        assert refused.value.response.status_code in (400, 404)
        assert run(charlies.delete, path) is False
    assert run(charlies.list).data == []
    headers = {"Authorization": f"Bearer {call_token(APP, 'charlie')}"}
    for params in (
        {"user_id": "alice"},
        {"extension_id": "other"},
        {"tenant_id": "t2"},
    ):
        answer = httpx.get(
            f"{server.url}/v1/internal/storage/download",
            params={"path": "secret.txt", **params},
            headers=headers,
        )
        assert answer.status_code == 403
        assert answer.json()["error"]["code"] == "forbidden"
    after = list(StoredFile.objects.values_list("user_id", "path", "storage_key"))
    assert after == before


def test_an_upload_declaring_more_than_the_limit_is_refused_unread(
    server, registry, alice
):
    # The server's limit is the default (64 MB); declare more, send none of it.
    host, port = server.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    connection.putrequest("POST", "/v1/internal/storage/upload")
    connection.putheader("Authorization", f"Bearer {call_token(APP, 'alice')}")
    connection.putheader("Content-Type", "multipart/form-data; boundary=x")
    connection.putheader("Content-Length", str(65 * 1024 * 1024 + 64 * 1024))
    connection.endheaders()
    answer = connection.getresponse()
    body = json.loads(answer.read())
    connection.close()
    assert answer.status == 413
    assert body["error"]["code"] == "payload_too_large"
    assert "IMPERAL_STORAGE_MAX_FILE_BYTES" in body["error"]["message"]
    assert not StoredFile.objects.exists()


def test_the_sdks_ai_client_completes_through_the_server(server, registry, alice):
    ai = AIClient(server.url, auth_token=call_token(APP, "alice"), extension_id=APP)

    result = run(ai.complete, "Plan my Monday")

    assert isinstance(result, CompletionResult)
    assert (result.text, result.model) == ("echo: Plan my Monday", MODEL)
    assert result.usage == {"input_tokens": 3, "output_tokens": 4, "total_tokens": 7}
    assert result.tokens_used == 7
    row = AICall.objects.get()
    assert (row.app_id, row.user_id, row.model, row.status) == (
        APP,
        "alice",
        MODEL,
        "ok",
    )
    assert (row.input_tokens, row.output_tokens) == (3, 4)


def test_the_ai_client_with_a_service_token_acts_for_its_user(server, registry, bob):
    token = issue_token(APP, user_id="bob").raw
    ai = AIClient(server.url, service_token=token, extension_id=APP)
    assert run(ai.complete, "hello there", max_tokens=20).tokens_used == 5
    assert AICall.objects.get().user_id == "bob"
