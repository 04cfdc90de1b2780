"""``@ext.webhook``: run a webhook handler for one HTTP request and shape its answer.

The handler gets imperal-sdk's arguments (``headers`` without hop-by-hop
ones, lower-cased; the raw ``body`` as text; ``query_params``) and a context
of its own, ``"__webhook__"``: a partition of its own for ctx.store and
ctx.cache, and the right to address users (``ctx.store.for_user(uid)``,
``ctx.notify.for_user(uid)``, ``ctx.as_user(uid)``) as imperal-sdk describes.
Authenticating the sender is the handler's job. Every call is a WebhookCall
row (app, path, method, status, duration, error; never a body or a header).
"""

import json
import re
import time
from dataclasses import dataclass, field

from asgiref.sync import async_to_sync
from django.conf import settings

from apps.accounts.identity import PlatformUserContext
from apps.accounts.security import WEBHOOK_ID
from imperal_platform.errors import http_status

from .errors import HandlerFailed, InvocationError
from .hooks import accepted_kwargs
from .invocation import PreparedCall, enabled_extension, handler_timeout
from .models import WebhookCall

TOOL_TYPE = "webhook"
PATH_MAX_CHARS = 300  # the WebhookCall column
RESPONSE_HEADERS_MAX = 50
# RFC 9110 §7.6.1, plus what proxies use; never forwarded to or from a handler.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
# Set by the server from the body; a handler may not set them.
SERVER_HEADERS = HOP_BY_HOP | {"content-length"}
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
TEXT = "text/plain; charset=utf-8"
JSON = "application/json"


class WebhookNotFound(InvocationError):
    code = "not_found"

    def __init__(self, app_id, path, declared):
        listing = ", ".join(sorted(declared)) or "none"
        super().__init__(
            f"extension {app_id!r} has no webhook {path[:PATH_MAX_CHARS]!r} "
            f"(it has: {listing})"
        )
        self.app_id = app_id


class WebhookMethodNotAllowed(InvocationError):
    """The webhook exists with another method; ``allowed`` names it."""

    code = "method_not_allowed"

    def __init__(self, app_id, path, method, allowed):
        super().__init__(
            f"webhook {path!r} of {app_id!r} is declared for {allowed}, "
            f"not {method[:10]}"
        )
        self.app_id = app_id
        self.allowed = allowed


class WebhookAnswerInvalid(InvocationError):
    """The handler returned something that is not an HTTP answer."""

    code = "handler_failed"


@dataclass
class WebhookResponse:
    """What goes on the wire: status, headers (name -> value), body bytes."""

    status: int
    body: bytes = b""
    content_type: str = JSON
    headers: dict = field(default_factory=dict)


def serve_webhook(app_id, path, method, headers, read_body, query):
    """Run the webhook ``path`` of ``app_id``; return its WebhookResponse.

    ``read_body()`` returns the request body (it may raise for an oversized
    one). Raises WebhookNotFound, WebhookMethodNotAllowed, ExtensionNotFound,
    ExtensionDisabled, ValueError (a body that is not UTF-8), HandlerFailed,
    HandlerTimeout or WebhookAnswerInvalid; every outcome is recorded.
    """
    started, size, status, error = time.perf_counter(), 0, 500, ""
    path = "/" + path.strip("/")
    try:
        call = prepare_webhook(app_id, path, method, headers, query)
        body = read_body()
        size = len(body)
        call.kwargs = accepted_kwargs(call.func, {**call.kwargs, "body": _text(body)})
        response = shape_response(async_to_sync(call.run)())
        status = response.status
        return response
    except Exception as exc:
        status, error = _status_of(exc), _summary(exc)
        raise
    finally:
        WebhookCall.objects.create(
            app_id=app_id[:128],
            path=path[:PATH_MAX_CHARS],
            method=method[:10],
            status_code=status,
            body_bytes=size,
            duration_ms=(time.perf_counter() - started) * 1000,
            error=error,
        )


def prepare_webhook(app_id, path, method, headers, query):
    """Return the PreparedCall of webhook ``path`` (the body is added by the caller)."""
    loaded = enabled_extension(app_id)
    definition = loaded.ext.webhooks.get(path)
    if definition is None:
        raise WebhookNotFound(app_id, path, loaded.ext.webhooks)
    if definition.method.upper() != method.upper():
        raise WebhookMethodNotAllowed(app_id, path, method, definition.method.upper())
    from .context import build_context

    ctx = build_context(
        loaded.ext, webhook_user(settings.IMPERAL_DEFAULT_TENANT), tool_type=TOOL_TYPE
    )
    return PreparedCall(
        label=f"{app_id} webhook {path}",
        func=definition.func,
        ctx=ctx,
        kwargs={"headers": forwarded_headers(headers), "query_params": dict(query)},
        timeout=handler_timeout(app_id),
    )


def webhook_user(tenant_id):
    """Return the ``"__webhook__"`` identity webhook handlers run as."""
    return PlatformUserContext(
        imperal_id=WEBHOOK_ID, email="", tenant_id=tenant_id, role="webhook"
    )


def forwarded_headers(headers):
    """Return ``headers`` lower-cased, without hop-by-hop ones (nor those
    ``Connection`` names)."""
    lowered = {name.lower(): value for name, value in headers.items()}
    named = {
        token.strip().lower() for token in lowered.get("connection", "").split(",")
    }
    return {
        name: value
        for name, value in lowered.items()
        if name not in HOP_BY_HOP and name not in named
    }


def shape_response(result):
    """Return the WebhookResponse for what a handler returned (JSON values).

    A dict's ``status_code``, ``headers`` and ``body`` shape the answer (a
    missing ``body``: the other keys are the JSON body; a str body is sent as
    text); anything else is the JSON body of a 200. Raises WebhookAnswerInvalid.
    """
    if not isinstance(result, dict):
        return WebhookResponse(200, _json(result) if result is not None else b"")
    result = dict(result)
    status = result.pop("status_code", 200)
    if isinstance(status, bool) or not isinstance(status, int):
        raise WebhookAnswerInvalid(
            f"webhook status_code must be an int, got {status!r:.40}"
        )
    if not 100 <= status <= 599:
        raise WebhookAnswerInvalid(f"webhook status_code must be 100-599, got {status}")
    headers = _response_headers(result.pop("headers", None) or {})
    body = result.pop("body") if "body" in result else result
    content_type = headers.pop("content-type", None)
    if isinstance(body, str):
        payload, default_type = body.encode(), TEXT
    elif body is None:
        payload, default_type = b"", TEXT
    else:
        payload, default_type = _json(body), JSON
    return WebhookResponse(status, payload, content_type or default_type, headers)


def _response_headers(headers):
    if not isinstance(headers, dict) or len(headers) > RESPONSE_HEADERS_MAX:
        raise WebhookAnswerInvalid(
            f"webhook headers must be a dict of at most {RESPONSE_HEADERS_MAX} "
            "name -> value strings"
        )
    shaped = {}
    for name, value in headers.items():
        if not isinstance(name, str) or not _TOKEN.match(name):
            raise WebhookAnswerInvalid(f"webhook header name {name!r:.60} is invalid")
        if name.lower() in SERVER_HEADERS:
            raise WebhookAnswerInvalid(
                f"webhook header {name!r} is set by the server, not by a handler"
            )
        if not isinstance(value, str) or any(c in value for c in "\r\n\x00"):
            raise WebhookAnswerInvalid(
                f"webhook header {name!r} must be a single-line string"
            )
        shaped[name.lower() if name.lower() == "content-type" else name] = value
    return shaped


def _text(body):
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(
            "webhook: the request body must be UTF-8 text (imperal-sdk hands the "
            "handler its body as a string)"
        ) from None


def _json(value):
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def _status_of(exc):
    status = getattr(exc, "status_code", None) or getattr(exc, "status", None)
    if isinstance(status, int):
        return status
    return http_status(exc)


def _summary(exc):
    """What the WebhookCall keeps of an error: never a handler's message (it may
    quote a secret or the body), only its type; our own messages in full."""
    if isinstance(exc, HandlerFailed):
        return f"HandlerFailed: the handler raised {type(exc.exc).__name__}"
    return f"{type(exc).__name__}: {exc}"[:500]
