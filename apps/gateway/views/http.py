"""``POST /v1/internal/http``: ctx.http of an isolated worker, through the egress guard.

The worker's ``ctx.http`` (apps/runtime/worker/context.py) sends each request
here with the invocation's call token; the request is made by the same core as
ctx.http in-process (:func:`apps.egress.client.send`: scheme and address rules,
the operator's policy, rate, connection slots, the user's ``egress.calls``
quota, the size cap, an OutboundCall row and, on a refusal, a SecurityEvent),
as the call token's user. Only a call token is accepted: outbound calls are
always some invocation's.

Body: ``{"method", "url", "headers"?, "params"?, "json"? | "content"? (base64),
"timeout"?, "follow_redirects"?}``. Answer: imperal-sdk's ``HTTPResponse``
as ctx.http in-process returns it: ``{"status_code", "headers", "body"}`` (the
parsed JSON or the text), or ``"body_base64"`` for a body that is not text.
With ``follow_redirects`` false a 3xx is answered as it is (imperal-sdk's
HTTPClient contract, as in-process). A refusal is the one error shape with
the egress error's code (``egress_refused`` 403, ``rate_limited`` 429 with
``detail.retry_after``, ``response_too_large`` 502, ``egress_busy`` 503) and
``detail`` ``{"rule", "host"}``; the user's ``egress.calls`` quota is
``quota_exceeded`` 429; a call that did not go through (connect error,
timeout) is ``bad_gateway`` 502 / ``timeout`` 504 with ``detail`` ``{"error",
"host", "exception", "reason"}``: httpx's exception and its message, which
the worker raises again as ctx.http in-process would have.
"""

import base64
import binascii

import httpx
from asgiref.sync import async_to_sync
from rest_framework.exceptions import MethodNotAllowed
from rest_framework.response import Response

from apps.common.http import error_body
from apps.egress.client import ERROR_CODES, send
from apps.egress.errors import EgressError
from apps.egress.face import DEFAULT_TIMEOUT, MAX_REDIRECTS, MAX_TIMEOUT

from .. import wire
from ..authentication import BearerCallTokenAuthentication, CallTokenAuthentication
from ..identity import acting_partition
from .base import GatewayView

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
URL_MAX = 8192
REASON_MAX_CHARS = 500
EGRESS_STATUS = {
    "egress_refused": 403,
    "rate_limited": 429,
    "response_too_large": 502,
    "egress_busy": 503,
    "egress_error": 502,
}


class InvalidRequest(ValueError):
    """The body does not describe one request; the message names the field."""

    code = "invalid_params"


def request_of(body):
    """Return (method, url, timeout, follow_redirects, httpx kwargs) of a request
    body; raise InvalidRequest naming the first bad field."""
    method = body.get("method")
    if not isinstance(method, str) or method.upper() not in METHODS:
        raise InvalidRequest(
            f"method: must be one of {', '.join(METHODS)}, got {str(method)[:20]!r}"
        )
    url = body.get("url")
    if not isinstance(url, str) or not url or len(url) > URL_MAX:
        raise InvalidRequest(f"url: required, a string of 1-{URL_MAX} characters")
    timeout = body.get("timeout", DEFAULT_TIMEOUT)
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not 0 < timeout <= MAX_TIMEOUT
    ):
        raise InvalidRequest(
            f"timeout: a number of seconds > 0 and <= {MAX_TIMEOUT}, got {timeout!r}"
        )
    kwargs = {}
    for name in ("headers", "params"):
        value = body.get(name)
        if value is None:
            continue
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str | int | float)
            for k, v in value.items()
        ):
            raise InvalidRequest(f"{name}: an object of names to strings")
        kwargs[name] = {k: str(v) for k, v in value.items()}
    if "json" in body and "content" in body:
        raise InvalidRequest("json, content: give at most one of them")
    if "json" in body:
        kwargs["json"] = body["json"]
    if body.get("content") is not None:
        try:
            kwargs["content"] = base64.b64decode(body["content"], validate=True)
        except (binascii.Error, TypeError, ValueError):
            raise InvalidRequest("content: must be base64") from None
    follow = body.get("follow_redirects", True)
    if not isinstance(follow, bool):
        raise InvalidRequest("follow_redirects: must be true or false")
    return method.upper(), url, float(timeout), follow, kwargs


class OutboundHTTP(GatewayView):
    """One outbound request of an isolated extension, as its invocation's user."""

    authentication_classes = [CallTokenAuthentication, BearerCallTokenAuthentication]
    http_method_names = ["post"]

    def initial(self, request, *args, **kwargs):
        # A method the route lacks is a 405 whoever asks, before the 401.
        if request.method.lower() not in self.http_method_names:
            raise MethodNotAllowed(request.method)
        super().initial(request, *args, **kwargs)

    def post(self, request):
        body = wire.body_of(request)
        method, url, timeout, follow, kwargs = request_of(body)
        partition = acting_partition(request, {})
        try:
            answer = async_to_sync(send)(
                partition,
                method,
                url,
                timeout=timeout,
                max_redirects=MAX_REDIRECTS,
                follow_redirects=follow,
                **kwargs,
            )
        except EgressError as exc:
            return refusal_of(exc)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            return failure_of(exc, method, url)
        return Response(answer_of(answer))


def refusal_of(exc):
    """Return the error answer of the egress guard's EgressError ``exc``."""
    detail = {"rule": exc.rule, "host": exc.host}
    retry_after = getattr(exc, "retry_after", None)
    if retry_after:
        detail["retry_after"] = retry_after
    response = Response(
        error_body(exc.code, exc, detail), status=EGRESS_STATUS[exc.code]
    )
    if retry_after:
        response["Retry-After"] = str(max(1, round(retry_after)))
    return response


def failure_of(exc, method, url):
    """Return the error answer of a call httpx could not make (``exc``)."""
    error = next((c for kind, c in ERROR_CODES if isinstance(exc, kind)), "http_error")
    timed_out = isinstance(exc, httpx.TimeoutException)
    host = httpx.URL(url).host if error != "invalid_url" else ""
    message = f"ctx.http: {method} to {host or url[:100]} failed: {error}"
    detail = {
        "error": error,
        "host": host,
        "exception": type(exc).__name__,
        "reason": str(exc)[:REASON_MAX_CHARS],
    }
    return Response(
        error_body("timeout" if timed_out else "bad_gateway", message, detail),
        status=504 if timed_out else 502,
    )


def answer_of(answer):
    """Return the wire form of imperal-sdk's HTTPResponse ``answer``."""
    wire_answer = {"status_code": answer.status_code, "headers": answer.headers}
    if isinstance(answer.body, bytes | bytearray):
        wire_answer["body_base64"] = base64.b64encode(answer.body).decode()
    else:
        wire_answer["body"] = answer.body
    return wire_answer
