"""The one error shape of every HTTP face, DRF's exception handler, request limits
(chunked bodies included), the ``Authorization`` header's parsing and the refusal
of NUL characters before any view.

Every error answer is ``{"error": {"code", "message", "detail"}}`` with the
status of the error table (:mod:`apps.common.errors`), built by
:func:`error_body` for :func:`exception_handler` (``REST_FRAMEWORK["EXCEPTION_HANDLER"]``)
and for the few requests refused before any view runs (:class:`RefuseNulMiddleware`). A
store conflict (code ``conflict`` with a ``current_etag``) also carries
``current_etag`` at the top level: imperal-sdk's StoreClient reads it from
``body.get("detail", body)``, i.e. from the top of the body.
"""

import codecs
import io
import json
import logging
import secrets
import traceback

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpResponseBadRequest, JsonResponse
from django.utils.html import format_html
from django.views import defaults
from rest_framework import exceptions
from rest_framework.authentication import get_authorization_header
from rest_framework.parsers import JSONParser
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from .errors import HTTP_STATUS, error_code, http_status
from .signals import error_logged
from .telemetry import context as request_context
from .telemetry import metrics

logger = logging.getLogger("imperal.http")

DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024
RETRY_AFTER_SECONDS = 5
MESSAGE_MAX_CHARS = 2000

# DRF's own exceptions, by the table's code.
_DRF_CODES = {
    exceptions.NotAuthenticated: "unauthenticated",
    exceptions.AuthenticationFailed: "unauthenticated",
    exceptions.PermissionDenied: "forbidden",
    exceptions.NotFound: "not_found",
    exceptions.Throttled: "throttled",
    exceptions.ParseError: "invalid_argument",
    exceptions.ValidationError: "invalid_argument",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
}


class PayloadTooLarge(exceptions.APIException):
    """A request body over the view's limit; nothing was read past it (HTTP 413)."""

    status_code = 413
    default_code = "payload_too_large"
    default_detail = "request body too large"


class DenyAll(BasePermission):
    """The default permission: a view that names none refuses every request."""

    message = "this route names no permission, so it refuses every request"

    def has_permission(self, request, view):
        return False


def error_body(code, message, detail=None):
    """Return the one error shape as a dict."""
    return {
        "error": {
            "code": code,
            "message": str(message)[:MESSAGE_MAX_CHARS],
            "detail": detail or {},
        }
    }


def exception_handler(exc, context):
    """Return the Response (the one error shape) for any exception a view raised.

    Core errors answer with their ``code``'s status; plain ValueError/TypeError
    are 400 ``invalid_argument``; DRF's own exceptions keep their meaning; an
    outage is 503 with Retry-After; anything else is a 500 whose body holds
    only an error id, the traceback being logged under that id.
    """
    # Imported here: rest_framework.views loads this module (DEFAULT_PERMISSION_CLASSES).
    from rest_framework.views import set_rollback

    set_rollback()
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(*exc.args)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)
    elif isinstance(exc, RequestDataTooBig):
        # Django's own message names DATA_UPLOAD_MAX_MEMORY_SIZE, which is set
        # from the setting operators know.
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        rule = "IMPERAL_HTTP_MAX_BODY_BYTES"
        exc = PayloadTooLarge(_too_large(f"over {limit}", limit, rule))
    if isinstance(exc, exceptions.APIException):
        return _drf_response(exc)
    if isinstance(exc, OperationalError | InterfaceError):
        logger.warning("database unavailable: %s: %s", type(exc).__name__, exc)
        return _unavailable("the database is unavailable; retry later", {})
    code = error_code(exc)
    if code == "internal":
        return _internal(exc, context)
    if code in ("unavailable", "runtime_busy"):
        retry_after = getattr(exc, "retry_after", None)
        return _unavailable(str(exc), {}, retry_after, code=code)
    detail = _detail_of(exc)
    body = error_body(code, exc, detail)
    if "current_etag" in detail:
        body["current_etag"] = detail["current_etag"]
    return Response(body, status=http_status(exc))


def _drf_response(exc):
    code = next(
        (code for cls, code in _DRF_CODES.items() if isinstance(exc, cls)),
        exc.default_code if exc.default_code in HTTP_STATUS else "internal",
    )
    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))
    detail = exc.detail if isinstance(exc.detail, dict | list) else {}
    message = exc.detail if isinstance(exc.detail, str) else exc.default_detail
    return Response(
        error_body(code, message, {"fields": detail} if detail else {}),
        status=HTTP_STATUS[code],
        headers=headers,
    )


def _unavailable(message, detail, retry_after=None, code="unavailable"):
    seconds = int(retry_after or RETRY_AFTER_SECONDS)
    return Response(
        error_body(code, message, {**detail, "retry_after": seconds}),
        status=HTTP_STATUS["unavailable"],
        headers={"Retry-After": str(seconds)},
    )


def _internal(exc, context):
    view = context.get("view")
    _note_caller(context.get("request"))
    where = f"in {type(view).__name__ if view is not None else '?'}"
    error_id = log_error("internal", exc, where)
    return Response(
        error_body("internal", internal_message(error_id), {"error_id": error_id}),
        status=HTTP_STATUS["internal"],
    )


def internal_message(error_id):
    """Return the message a caller sees for an internal error: its error id only."""
    return (
        f"internal error; the operator can find it as {error_id} in the log and "
        "the admin's Recorded errors"
    )


def _note_caller(request):
    user = getattr(request, "user", None)
    if getattr(user, "is_authenticated", False):
        request_context.note_caller(
            getattr(user, "tenant_id", ""), getattr(user, "imperal_id", "")
        )


def _detail_of(exc):
    """Return the JSON-safe attributes a core error carries for its caller."""
    detail = {}
    names = (
        "doc_id",
        "collection",
        "expected_etag",
        "current_etag",
        "app_id",
        "secret",
    )
    for name in names:
        value = getattr(exc, name, None)
        if isinstance(value, str):
            detail[name] = value
    fields = getattr(exc, "fields", None)
    if isinstance(fields, dict) and fields:
        detail["fields"] = fields
    quota = getattr(exc, "quota", None)
    if isinstance(quota, dict):
        detail.update(quota)
    return detail


def authorization_credential(request, scheme):
    """Return the credential of ``Authorization: <scheme> <credential>``.

    Return None when the header is absent or names another scheme; raise
    AuthenticationFailed (401) when it names ``scheme`` but is malformed.
    """
    parts = get_authorization_header(request).split()
    if not parts or parts[0].decode("latin-1").lower() != scheme.lower():
        return None
    if len(parts) != 2:
        raise exceptions.AuthenticationFailed(
            f"Authorization: {scheme} takes exactly one credential after the scheme"
        )
    try:
        return parts[1].decode("ascii")
    except UnicodeDecodeError:
        raise exceptions.AuthenticationFailed(
            f"{scheme} credential must be ASCII"
        ) from None


def max_body_bytes(view):
    """Return the request body limit of ``view``: its ``max_body_bytes``, else
    IMPERAL_HTTP_MAX_BODY_BYTES."""
    limit = getattr(view, "max_body_bytes", None)
    if limit is None:
        limit = getattr(settings, "IMPERAL_HTTP_MAX_BODY_BYTES", None)
    return limit or DEFAULT_MAX_BODY_BYTES


def read_body(stream, parser_context):
    """Return the request body bytes, at most the view's limit; raise PayloadTooLarge.

    A declared Content-Length over the limit is refused before reading. The
    message names the limit and the view's ``body_limit_rule`` (the setting
    or invariant the limit comes from).
    """
    context = parser_context or {}
    view = context.get("view")
    limit = max_body_bytes(view)
    rule = getattr(view, "body_limit_rule", "IMPERAL_HTTP_MAX_BODY_BYTES")
    request = context.get("request")
    meta = request.META if request is not None else {}
    try:
        declared = int(meta.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise PayloadTooLarge(_too_large(declared, limit, rule))
    body = stream.read(limit + 1)
    if len(body) > limit:
        raise PayloadTooLarge(_too_large(f"over {limit}", limit, rule))
    return body


def _too_large(size, limit, rule):
    return f"request body is {size} bytes; this route's limit is {limit} bytes ({rule})"


# Every setting bounding a request body; a chunked body is read up to the largest.
BODY_LIMIT_SETTINGS = ("IMPERAL_HTTP_MAX_BODY_BYTES", "IMPERAL_WEBHOOK_MAX_BODY_BYTES")


def chunked_body_limit():
    """Return the most bytes a chunked request body is read to (BODY_LIMIT_SETTINGS)."""
    limits = [getattr(settings, name, None) for name in BODY_LIMIT_SETTINGS]
    return max((limit for limit in limits if limit), default=DEFAULT_MAX_BODY_BYTES)


class ChunkedBodyMiddleware:
    """WSGI middleware: give a chunked request body its length before Django reads it.

    A WSGI server hands over a ``Transfer-Encoding: chunked`` body de-chunked
    but without CONTENT_LENGTH, and Django reads a body only up to
    CONTENT_LENGTH: views saw none. This reads the body (at most
    :func:`chunked_body_limit` bytes; a longer one is a 413 in the one error
    shape) and hands Django the bytes with their length, as a proxy that
    de-chunks would; each route's own limit then applies as for any body.
    """

    def __init__(self, application):
        self.application = application

    def __call__(self, environ, start_response):
        encoding = environ.get("HTTP_TRANSFER_ENCODING", "")
        if environ.get("CONTENT_LENGTH") or "chunked" not in encoding.lower():
            return self.application(environ, start_response)
        limit = chunked_body_limit()
        body = environ["wsgi.input"].read(limit + 1)
        if len(body) > limit:
            rule = f"the largest of {', '.join(BODY_LIMIT_SETTINGS)}"
            answer = json.dumps(
                error_body(
                    "payload_too_large", _too_large(f"over {limit}", limit, rule)
                )
            ).encode()
            start_response(
                "413 Content Too Large",
                [
                    ("Content-Type", "application/json"),
                    ("Content-Length", str(len(answer))),
                ],
            )
            return [answer]
        environ = {
            **environ,
            "wsgi.input": io.BytesIO(body),
            "CONTENT_LENGTH": str(len(body)),
        }
        del environ["HTTP_TRANSFER_ENCODING"]  # the body now has a declared length
        return self.application(environ, start_response)


class BoundedJSONParser(JSONParser):
    """JSON bodies up to the view's limit (PayloadTooLarge, 413, beyond it).

    NaN and Infinity are parsed, not refused here: the core that receives the
    value refuses it with the message naming its rule, as it does in process.
    """

    strict = False

    def parse(self, stream, media_type=None, parser_context=None):
        """Return the decoded JSON value; raise ParseError or PayloadTooLarge."""
        body = read_body(stream, parser_context)
        encoding = (parser_context or {}).get("encoding") or settings.DEFAULT_CHARSET
        try:
            text = codecs.decode(body, encoding)
            return json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise exceptions.ParseError(
                f"JSON parse error - {str(exc)[:200]}"
            ) from None


# --- Routes nobody serves ------------------------------------------------------

#: Paths whose clients are programs: they get the error shape, never an HTML page.
MACHINE_PREFIXES = ("/api/", "/v1/", "/healthz", "/metrics")


def is_machine_path(path):
    """Return whether ``path`` belongs to a programmatic face (API, gateway, probes)."""
    return path.startswith(MACHINE_PREFIXES)


def not_found(request, exception=None):
    """Django's ``handler404``: the error shape for programs, an HTML page for people."""
    if not is_machine_path(request.path):
        return defaults.page_not_found(request, exception)
    message = f"no route {request.path[:200]!r}; the API's routes are at /api/schema/"
    return JsonResponse(
        error_body("not_found", message), status=HTTP_STATUS["not_found"]
    )


def server_error(request):
    """Django's ``handler500`` (an error outside any view): the error shape for programs."""
    if not is_machine_path(request.path):
        return defaults.server_error(request)
    message = "internal error; the operator finds it in the log (django.request)"
    return JsonResponse(error_body("internal", message), status=HTTP_STATUS["internal"])


# --- A failed extension handler -------------------------------------------------


def invocation_exception_handler(exc, context):
    """Return what :func:`exception_handler` returns, except for a failed handler.

    An extension handler that raised (code ``handler_failed``) answers 500
    with an error id only: its traceback is logged under that id, and neither
    the traceback nor the exception's message (which may hold the extension's
    data) reaches the body. Views that run handlers name this function in
    ``get_exception_handler``.
    """
    cause = getattr(exc, "exc", None)
    if error_code(cause) == "quota_exceeded":
        # A quota refusal the handler let through answers as itself.
        return exception_handler(cause, context)
    if error_code(exc) != "handler_failed":
        return exception_handler(exc, context)
    from rest_framework.views import set_rollback

    set_rollback()
    error_id = log_handler_failure(exc)
    return Response(
        error_body(
            "handler_failed",
            handler_failure_message(exc, error_id),
            {"error_id": error_id},
        ),
        status=HTTP_STATUS["handler_failed"],
    )


def log_handler_failure(exc):
    """Log a failed handler with its traceback under a new error id; return the id."""
    return log_error("handler_failed", exc, str(exc))


def log_error(kind, exc, message):
    """Log ``exc`` with its traceback under a new error id, count it and send
    ``error_logged`` (the admin's Recorded errors keep it); return the id.

    ``kind`` is ``handler_failed`` or ``internal``; ``message`` is for operators
    only (a handler's message may hold its data): callers see the id. A
    HandlerFailed is logged with the traceback of what the handler raised.
    """
    error_id = secrets.token_hex(8)
    cause = getattr(exc, "exc", None) or exc
    exc_info = (type(cause), cause, cause.__traceback__)
    title = "handler failed" if kind == "handler_failed" else "internal error"
    logger.error(
        "%s, error id %s: %s",
        title,
        error_id,
        message,
        exc_info=exc_info,
        extra={"error_id": error_id, "error_kind": kind},
    )
    metrics.error_answered(kind)
    error_logged.send(
        sender=None,
        error_id=error_id,
        kind=kind,
        exception_type=type(cause).__name__,
        message=message,
        traceback="".join(traceback.format_exception(*exc_info)),
        scope=request_context.current(),
    )
    return error_id


def handler_failure_message(exc, error_id):
    """Return the message a caller sees for a failed handler: its kind and error id."""
    cause = getattr(exc, "exc", None) or exc
    return (
        f"the extension's handler raised {type(cause).__name__}; the operator can "
        f"find it as {error_id} in the log and the admin's Recorded errors"
    )


# --- Requests refused before any view: NUL characters --------------------------

NUL_RULE = (
    "the NUL character (U+0000, %00) is not allowed in a URL path, a query "
    "parameter, a cookie or a form field (PostgreSQL text cannot hold it)"
)
# Routes answered with HTML pages (an operator's browser); all others get JSON.
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class RefuseNulMiddleware:
    """Answer 400 to a request carrying NUL where it would reach the database.

    One check for every route, before sessions, authentication or a view
    runs: the path, the query parameters and the cookies of any request,
    and the form fields of a page's POST (webhooks keep their raw bodies).
    The answer names the rule and where the NUL is: the one error shape, or a
    plain HTML page on pages people open (see :func:`is_machine_path`).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        where = nul_in_request(request)
        if where is None:
            return self.get_response(request)
        message = f"{where} holds a NUL character: {NUL_RULE}"
        if is_page(request):
            page = format_html(
                "<!doctype html><title>Bad Request (400)</title>"
                "<h1>Bad Request (400)</h1><p>{}</p>",
                message,
            )
            return HttpResponseBadRequest(page)
        return JsonResponse(error_body("invalid_argument", message), status=400)


def nul_in_request(request):
    """Return where ``request`` holds a NUL (a phrase for the message), or None.

    Query values are quoted back (clipped); cookie and form values never are
    (they may be credentials).
    """
    if "\x00" in request.path:
        return f"the URL path {request.path[:200]!r}"
    query = request.META.get("QUERY_STRING", "")
    if "%00" in query or "\x00" in query:
        for name, values in request.GET.lists():
            for value in values:
                if "\x00" in name or "\x00" in value:
                    return f"query parameter {name[:80]!r} = {value[:80]!r}"
    cookies = request.META.get("HTTP_COOKIE", "")
    if "\\000" in cookies or "\x00" in cookies:
        for name, value in request.COOKIES.items():
            if "\x00" in name or "\x00" in value:
                return f"cookie {name[:80]!r}"
    if request.method == "POST" and request.content_type in _FORM_TYPES:
        if is_page(request):
            for name, values in request.POST.lists():
                if "\x00" in name or any("\x00" in value for value in values):
                    return f"form field {name[:80]!r}"
    return None


def is_page(request):
    """Return True when the request is for a page people open (not a machine path)."""
    return not is_machine_path(request.path)
