"""POST /v1/ext/{app}/webhook/{path}: imperal-sdk webhook handlers over HTTP — a
handshake, a signed event written for a user, the handler's own 401, limits, errors
in the one shape, and a record of every call."""

import json

import pytest
from asgiref.sync import async_to_sync
from django.test import Client

from apps.accounts.identity import user_context
from apps.accounts.models import SecurityEvent
from apps.extensions.context import build_context
from apps.extensions.invocation import prepare_tool
from apps.extensions.models import Extension as ExtensionRow
from apps.extensions.models import WebhookCall
from apps.extensions.sync import sync_extensions
from apps.notifications.models import Notification
from apps.store.models import AuditEntry, Document
from tests.fixtures.extensions.webhook_probe import SIGNATURE

pytestmark = pytest.mark.django_db

APP = "webhook-probe"
BASE = f"/v1/ext/{APP}/webhook"


@pytest.fixture
def probe(use_extensions, settings):
    settings.PUBLIC_URL = "https://platform.example"
    loaded = use_extensions("tests.fixtures.extensions.webhook_probe").get(APP)
    sync_extensions()
    return loaded


@pytest.fixture
def client():
    return Client()


def post(client, path, body=b"", content_type="application/json", **headers):
    return client.generic("POST", f"{BASE}/{path}", body, content_type, **headers)


def event(user="alice", kind="paid"):
    return json.dumps({"user": user, "kind": kind}).encode()


def test_a_handshake_echoes_its_secret_in_a_response_header(probe, client):
    answer = post(client, "events", HTTP_X_HOOK_SECRET="hs-123")

    assert answer.status_code == 200
    assert answer["X-Hook-Secret"] == "hs-123"
    assert answer.content == b""
    call = WebhookCall.objects.get()
    assert (call.app_id, call.path, call.method, call.status_code, call.error) == (
        APP,
        "/events",
        "POST",
        200,
        "",
    )


def test_a_signed_event_is_written_for_its_user_with_the_sdks_arguments(
    probe, client, alice
):
    answer = client.generic(
        "POST",
        f"{BASE}/events?tenant=acme&tenant=t2",
        event(),
        "application/json",
        HTTP_X_SIGNATURE=SIGNATURE,
        HTTP_CONNECTION="keep-alive, X-Drop-Me",
        HTTP_X_DROP_ME="1",
        HTTP_TE="trailers",
        HTTP_KEEP_ALIVE="timeout=5",
    )

    assert answer.status_code == 200
    assert answer["Content-Type"] == "application/json"
    body = answer.json()
    assert body["status"] == "ok"
    assert "x-signature" in body["seen"] and "content-type" in body["seen"]
    for dropped in ("connection", "x-drop-me", "te", "keep-alive"):
        assert dropped not in body["seen"]
    doc = Document.objects.get(collection="events")
    assert (doc.user_id, doc.doc_id, doc.data) == (
        "alice",
        body["id"],
        {"kind": "paid", "tenant": {"tenant": "t2"}},
    )
    audit = AuditEntry.objects.get(doc_id=doc.doc_id)
    assert audit.actor == "webhook-as-user"  # not to be taken for a schedule's
    note = Notification.objects.get()
    assert (note.user_id, note.app_id, note.message) == ("alice", APP, "event paid")
    assert WebhookCall.objects.get().body_bytes == len(event())


def test_the_handler_chooses_its_own_401(probe, client, alice):
    answer = post(client, "events", event(), HTTP_X_SIGNATURE="forged")

    assert answer.status_code == 401
    assert answer.json() == {"error": "bad signature"}
    assert not Document.objects.exists()
    assert WebhookCall.objects.get().status_code == 401


def test_an_oversized_body_is_refused_before_the_handler_runs(
    probe, client, alice, settings
):
    settings.IMPERAL_WEBHOOK_MAX_BODY_BYTES = 64
    answer = post(
        client, "events", b"{" + b" " * 100 + b"}", HTTP_X_SIGNATURE=SIGNATURE
    )

    assert answer.status_code == 413
    error = answer.json()["error"]
    assert error["code"] == "payload_too_large"
    assert "limit is 64 bytes (IMPERAL_WEBHOOK_MAX_BODY_BYTES)" in error["message"]
    assert not Document.objects.exists()
    call = WebhookCall.objects.get()
    assert (call.status_code, call.body_bytes) == (413, 0)


def test_the_declared_method_only(probe, client):
    answer = client.get(f"{BASE}/events")
    assert answer.status_code == 405
    assert answer["Allow"] == "POST"
    assert answer.json()["error"]["code"] == "method_not_allowed"
    assert "declared for POST, not GET" in answer.json()["error"]["message"]
    assert answer.json()["error"]["detail"] == {"app_id": APP}

    redirect = client.get(f"{BASE}/oauth/callback?code=x")
    assert redirect.status_code == 302
    assert redirect["Location"] == (
        "https://platform.example/v1/ext/webhook-probe/webhook/done"
    )
    assert [c.status_code for c in WebhookCall.objects.order_by("id")] == [405, 302]


def test_an_unknown_extension_and_an_unknown_path_get_one_404_naming_no_path(
    probe, client
):
    answers = [
        client.post(path, b"{}", "application/json", HTTP_ACCEPT="text/html")
        for path in (f"{BASE}/nope", "/v1/ext/ghost/webhook/events")
    ]

    assert [a.status_code for a in answers] == [404, 404]
    bodies = [a.json() for a in answers]
    assert bodies[0] == bodies[1]  # nothing tells a known extension from a made-up one
    error = bodies[0]["error"]
    assert (error["code"], error["detail"]) == ("not_found", {})
    assert error["message"].startswith("no such webhook")
    for declared in ("events", "oauth", "boom", "whoami", "bad-answer"):
        assert declared not in answers[0].content.decode()
    assert not WebhookCall.objects.exists()


def test_a_raising_handler_is_a_500_that_shows_and_records_no_secret(probe, client):
    answer = post(client, "boom", b"{}", HTTP_X_SIGNATURE=SIGNATURE)

    assert answer.status_code == 500
    error = answer.json()["error"]
    assert error["code"] == "handler_failed"
    assert error["detail"]["error_id"] in error["message"]
    assert SIGNATURE not in answer.content.decode()
    call = WebhookCall.objects.get()
    assert call.error == "HandlerFailed: the handler raised ValueError"


def test_an_answer_the_server_cannot_send_is_a_500_and_recorded(probe, client):
    answer = post(client, "bad-answer")
    assert answer.status_code == 500
    assert answer.json()["error"]["code"] == "handler_failed"
    assert "is set by the server, not by a handler" in WebhookCall.objects.get().error


def test_the_webhook_context_is_its_own_and_has_no_recipient(probe, client):
    answer = post(client, "whoami", "héllo".encode(), "text/plain")

    assert answer.status_code == 200
    body = answer.json()
    assert (body["user"], body["tool_type"], body["text"]) == (
        "__webhook__",
        "webhook",
        "héllo",
    )
    assert "webhook context has no recipient" in body["notify_refused"]
    own = Document.objects.get(collection="inbox")
    assert (own.user_id, own.data) == ("__webhook__", {"len": 5})
    assert AuditEntry.objects.get(doc_id=own.doc_id).actor == "webhook"
    assert not Notification.objects.exists()


def test_a_body_that_is_not_utf8_is_a_400(probe, client):
    answer = post(client, "whoami", b"\xff\xfe", "application/octet-stream")
    assert answer.status_code == 400
    assert "must be UTF-8 text" in answer.json()["error"]["message"]
    assert not Document.objects.exists()


def test_a_disabled_extensions_webhook_is_refused(probe, client):
    row = ExtensionRow.objects.get(app_id=APP)
    row.enabled = False
    row.save()
    answer = post(client, "events", HTTP_X_HOOK_SECRET="hs")
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "extension_disabled"


def test_webhook_url_is_this_platforms(probe, alice):
    result = async_to_sync(
        prepare_tool(APP, "hook_url", "alice", {"path": "/oauth/callback"}).run
    )()
    assert result == {
        "url": "https://platform.example/v1/ext/webhook-probe/webhook/oauth/callback"
    }


def test_a_user_context_still_may_not_address_another_user(probe, alice, bob):
    ctx = build_context(probe.ext, user_context(alice))
    with pytest.raises(RuntimeError, match="requires system context"):
        ctx.store.for_user("bob")
    with pytest.raises(RuntimeError, match="requires system context"):
        ctx.as_user("bob")
    assert SecurityEvent.objects.filter(user_id="alice").count() == 2
