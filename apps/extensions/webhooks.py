"""``@ext.webhook``: run a webhook handler for one HTTP request and shape its answer.

The handler gets imperal-sdk's arguments (``headers`` lower-cased, without
hop-by-hop ones nor the visitor's credentials and the proxies' headers,
WITHHELD_HEADERS; the raw ``body`` as text; ``query_params``) and a context
of its own, ``"__webhook__"``: a partition of its own for ctx.store and
ctx.cache, and the right to address users (``ctx.store.for_user(uid)``,
``ctx.notify.for_user(uid)``, ``ctx.as_user(uid)``) as imperal-sdk describes.
Authenticating the sender is the handler's job (a signature header such as
``X-Hub-Signature-256`` or ``Stripe-Signature`` reaches it unchanged). Every
call of a declared webhook is a WebhookCall row (app, path, method, status,
duration, error; never a body or a header); a request for a webhook nobody
declared leaves no row.
"""

import json
import re
import time
from dataclasses import dataclass, field, replace

from asgiref.sync import async_to_sync
from django.conf import settings

from apps.accounts.identity import PlatformUserContext
from apps.accounts.security import WEBHOOK_ID
from apps.common.errors import http_status

from .context import build_context
from .errors import HandlerFailed, InvocationError
from .hooks import accepted_kwargs
from .invocation import PreparedCall, enabled_extension
from .limits import handler_timeout
from .models import WebhookCall
from .registry import get_registry
from .runtimes import context_invocation, runtime_for

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
# Never handed to a handler: the visitor's credentials (a browser sends the
# platform's cookies to a webhook on its host; API, gateway and call tokens),
# the platform's identity headers, and what proxies add about the path a request
# took (spoofable by the sender, and the deployment's own business).
WITHHELD_HEADERS = frozenset(
    {
        "cookie",
        "authorization",
        "proxy-authorization",
        "x-csrftoken",
        "x-service-token",
        "x-acting-user",
        "x-extension-id",
        "x-tenant-id",
        "forwarded",
        "via",
        "x-real-ip",
        "x-client-ip",
        "true-client-ip",
        "cf-connecting-ip",
        "fastly-client-ip",
        "x-cluster-client-ip",
    }
)
WITHHELD_PREFIXES = ("x-forwarded-",)  # -for, -host, -proto, -port, -prefix, …
# Set by the server (from the body, or on every webhook answer); a handler may not.
SERVER_HEADERS = HOP_BY_HOP | {
    "content-length",
    "content-security-policy",
    "x-content-type-options",
}
# What a handler's answer may not do to the visitor's browser beyond this one
# answer: set or clear cookies and site data, widen a service worker's scope.
REFUSED_ANSWER_HEADERS = frozenset(
    {"set-cookie", "set-cookie2", "clear-site-data", "service-worker-allowed"}
)
STATUS_MIN, STATUS_MAX = 200, 599  # no 1xx: an interim answer is the server's
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
TEXT = "text/plain; charset=utf-8"
JSON = "application/json"


class WebhookNotFound(InvocationError):
    """No such webhook: one answer whether the extension or the path is unknown.

    It names neither the extension's webhooks (a path may be a shared secret)
    nor whether the extension exists, and carries no ``app_id`` detail.
    """

    code = "not_found"

    def __init__(self):
        super().__init__(
            "no such webhook: no extension declares this path "
            "(/v1/ext/{app}/webhook/{path})"
        )


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
    one). Raises WebhookNotFound (nothing recorded), or, each outcome recorded:
    WebhookMethodNotAllowed, ExtensionDisabled, ValueError (a body that is
    not UTF-8), HandlerFailed, HandlerTimeout or WebhookAnswerInvalid.
    """
    path = "/" + path.strip("/")
    loaded, definition = declared_webhook(app_id, path)
    started, size, status, error = time.perf_counter(), 0, 500, ""
    try:
        call = prepare_webhook(loaded, definition, method, headers, query)
        body = read_body()
        size = len(body)
        call.kwargs = accepted_kwargs(call.func, {**call.kwargs, "body": _text(body)})
        if call.runtime is not None:
            call.invocation = replace(call.invocation, kwargs=call.kwargs)
        response = shape_response(async_to_sync(call.run)())
        status = response.status
        return response
    except Exception as exc:
        status, error = _status_of(exc), _summary(exc)
        raise
    finally:
        WebhookCall.objects.create(
            app_id=loaded.app_id,
            path=path[:PATH_MAX_CHARS],
            method=method[:10],
            status_code=status,
            body_bytes=size,
            duration_ms=(time.perf_counter() - started) * 1000,
            error=error,
        )


def declared_webhook(app_id, path):
    """Return (LoadedExtension, WebhookDef) of webhook ``path`` of ``app_id``.

    Raises WebhookNotFound alike for an unknown extension and an unknown path.
    """
    loaded = get_registry().get(app_id)
    definition = loaded.ext.webhooks.get(path) if loaded is not None else None
    if definition is None:
        raise WebhookNotFound()
    return loaded, definition


def prepare_webhook(loaded, definition, method, headers, query):
    """Return the PreparedCall of a declared webhook (the caller adds the body).

    Raises ExtensionDisabled or WebhookMethodNotAllowed.
    """
    app_id, path = loaded.app_id, definition.path
    enabled_extension(app_id)
    if definition.method.upper() != method.upper():
        raise WebhookMethodNotAllowed(app_id, path, method, definition.method.upper())
    ctx = build_context(
        loaded.ext, webhook_user(settings.IMPERAL_DEFAULT_TENANT), tool_type=TOOL_TYPE
    )
    label, timeout = f"{app_id} webhook {path}", handler_timeout(app_id)
    runtime = runtime_for(loaded)
    return PreparedCall(
        label=label,
        func=definition.func,
        ctx=ctx,
        kwargs={"headers": forwarded_headers(headers), "query_params": dict(query)},
        timeout=timeout,
        runtime=runtime,
        invocation=(
            context_invocation(loaded, "webhook", path, label, ctx, timeout)
            if runtime is not None
            else None
        ),
    )


def webhook_user(tenant_id):
    """Return the ``"__webhook__"`` identity webhook handlers run as."""
    return PlatformUserContext(
        imperal_id=WEBHOOK_ID, email="", tenant_id=tenant_id, role="webhook"
    )


def forwarded_headers(headers):
    """Return the headers a handler gets: ``headers`` lower-cased, without
    hop-by-hop ones (nor those ``Connection`` names) and WITHHELD_HEADERS."""
    lowered = {name.lower(): value for name, value in headers.items()}
    named = {
        token.strip().lower() for token in lowered.get("connection", "").split(",")
    }
    return {
        name: value
        for name, value in lowered.items()
        if name not in HOP_BY_HOP and name not in named and not is_withheld(name)
    }


def is_withheld(name):
    """Return whether header ``name`` (lower-case) never reaches a handler."""
    return name in WITHHELD_HEADERS or name.startswith(WITHHELD_PREFIXES)


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
    if not STATUS_MIN <= status <= STATUS_MAX:
        raise WebhookAnswerInvalid(
            f"webhook status_code must be {STATUS_MIN}-{STATUS_MAX} (an interim "
            f"1xx answer is the server's), got {status}"
        )
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
        if name.lower() in REFUSED_ANSWER_HEADERS:
            raise WebhookAnswerInvalid(
                f"webhook header {name!r} is refused: a webhook answer may not set "
                "cookies, clear site data or widen a service worker's scope"
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
