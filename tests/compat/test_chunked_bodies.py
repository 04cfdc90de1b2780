"""Chunked request bodies (Transfer-Encoding: chunked, no Content-Length) on the
production server (scripts/serve.sh, granian WSGI): every route reads them whole,
within the same limits as any body.

granian hands a chunked body over de-chunked but without CONTENT_LENGTH, and
Django reads a body only up to CONTENT_LENGTH: a webhook saw an empty body and
answered 200, a tool call said its params were missing.
"""

import json
import socket

import httpx
import pytest

from apps.accounts.models import ApiToken
from apps.gateway.tokens import issue_token
from apps.store.models import Document

from .server import HOST, LiveServer

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
EXTENSIONS = "tests.fixtures.extensions.webhook_probe,tests.reliability.extension"
WEBHOOK_LIMIT = 4096
HTTP_LIMIT = 64 * 1024
WHOAMI = "/v1/ext/webhook-probe/webhook/whoami"


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker, tmp_path_factory):
    live = LiveServer(
        tmp_path_factory.mktemp("chunked"),
        extensions=EXTENSIONS,
        env={
            "IMPERAL_WEBHOOK_MAX_BODY_BYTES": str(WEBHOOK_LIMIT),
            "IMPERAL_HTTP_MAX_BODY_BYTES": str(HTTP_LIMIT),
        },
    )
    live.start()
    yield live
    live.stop()
    assert "Traceback" not in live.log()


@pytest.fixture
def registry(use_extensions):
    """This process's registry, as the server's: tokens name its extensions."""
    return use_extensions(*EXTENSIONS.split(","))


def chunks(data, size=7):
    """Yield ``data`` in pieces: httpx sends a generator chunked, with no length."""
    for start in range(0, len(data), size):
        yield data[start : start + size]


def post_chunked(server, path, data, headers=None):
    response = httpx.post(
        server.url + path, content=chunks(data), headers=headers or {}, timeout=30
    )
    return response


def raw_chunked(server, path, framed, headers=""):
    """Send a request whose chunked framing is ``framed`` as is; return the reply."""
    with socket.create_connection((HOST, server.port), timeout=30) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n"
            f"Transfer-Encoding: chunked\r\n{headers}\r\n".encode()
            + framed
        )
        reply = b""
        while data := sock.recv(65536):
            reply += data
    return reply.decode("utf-8", "replace")


def webhook_inbox():
    return list(
        Document.objects.filter(user_id="__webhook__", collection="inbox").values_list(
            "data", flat=True
        )
    )


def test_a_chunked_webhook_body_reaches_the_handler_whole(server):
    text = "hello from a chunked sender " * 20
    response = post_chunked(server, WHOAMI, text.encode())
    assert response.status_code == 200, response.text
    assert response.json()["text"] == text
    assert webhook_inbox() == [{"len": len(text)}]


def test_a_chunked_body_framed_by_hand_is_read_across_its_chunks(server):
    framed = b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    reply = raw_chunked(server, WHOAMI, framed)
    assert reply.startswith("HTTP/1.1 200"), reply
    assert json.loads(reply.split("\r\n\r\n", 1)[1])["text"] == "hello world"
    assert webhook_inbox() == [{"len": 11}]


def test_a_chunked_tool_call_gets_its_params(server, alice):
    token = ApiToken.issue(alice)[1]
    body = json.dumps({"params": {"key": "k", "value": 7}}).encode()
    response = post_chunked(
        server,
        "/api/v1/extensions/reliable/tools/remember/call",
        body,
        {"Authorization": f"Token {token}", "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["result"] == {"value": 7}
    stored = Document.objects.get(app_id="reliable", user_id="alice", doc_id="k")
    assert stored.data == {"value": 7}


def test_a_chunked_gateway_create_writes_the_document(server, registry, alice):
    token = issue_token("reliable", user_id="alice").raw
    body = json.dumps({"collection": "notes", "data": {"doc_id": "c", "x": 1}})
    response = post_chunked(
        server,
        "/v1/internal/store",
        body.encode(),
        {"X-Service-Token": token, "Content-Type": "application/json"},
    )
    assert response.status_code == 201, response.text
    assert Document.objects.get(app_id="reliable", doc_id="c").data["x"] == 1


def test_a_chunked_body_over_its_routes_limit_is_413_and_the_handler_never_runs(
    server,
):
    response = post_chunked(server, WHOAMI, b"x" * (WEBHOOK_LIMIT + 1))
    assert response.status_code == 413, response.text
    error = response.json()["error"]
    assert error["code"] == "payload_too_large"
    assert "IMPERAL_WEBHOOK_MAX_BODY_BYTES" in error["message"]
    assert webhook_inbox() == []


def test_a_chunked_body_over_every_limit_is_413_before_django_reads_it(
    server, registry, alice
):
    token = issue_token("reliable", user_id="alice").raw
    data = {"x": "y" * (HTTP_LIMIT + 10)}
    body = json.dumps({"collection": "notes", "data": data}).encode()
    response = post_chunked(
        server,
        "/v1/internal/store",
        body,
        {"X-Service-Token": token, "Content-Type": "application/json"},
    )
    assert response.status_code == 413, response.text
    error = response.json()["error"]
    assert error["code"] == "payload_too_large"
    assert f"this route's limit is {HTTP_LIMIT} bytes" in error["message"]
    assert "IMPERAL_HTTP_MAX_BODY_BYTES" in error["message"]
    assert not Document.objects.filter(app_id="reliable").exists()


def test_malformed_chunk_framing_is_never_a_server_error(server):
    """granian hands over what it could de-chunk (here nothing) and no error, as
    it does for a body shorter than its Content-Length (RELIABILITY.md, Known
    limits): the answer is never a 5xx or a traceback."""
    reply = raw_chunked(server, WHOAMI, b"zz\r\nhello\r\n0\r\n\r\n")
    status = int(reply.split(" ", 2)[1])
    assert status < 500, reply
    assert "Traceback" not in reply
    assert webhook_inbox() in ([], [{"len": 0}])
