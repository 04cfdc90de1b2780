"""ctx.http in an isolated worker: imperal-sdk's HTTPClient, sent through the platform.

Each request goes to the gateway's ``POST /v1/internal/http`` with the
invocation's call token; the platform makes it through the egress guard as
the invocation's user (the same core as ctx.http in-process) and answers
imperal-sdk's ``HTTPResponse``. The request is built here by httpx, as the
in-process client builds it (params merged into the URL, cookies into a
Cookie header, ``data``/``files``/``json`` encoded), and relayed as a URL,
headers and bytes. What the platform refuses raises what ctx.http raises
in-process: EgressRefused, EgressRateLimited, ResponseTooLarge, EgressBusy,
QuotaExceeded (apps.runtime.worker.errors), or httpx's own error
(``ReadTimeout``, ``ConnectError``, …) with httpx's message.
"""

import base64

import httpx
from imperal_sdk._shared_http import shared_http
from imperal_sdk.http.client import HTTPClient
from imperal_sdk.types.models import HTTPResponse

from .errors import EGRESS_ERRORS, error_body_of, error_of

# imperal-sdk's HTTPClient defaults: 30 s per call, a 180 s cap, 5 redirects.
DEFAULT_TIMEOUT = 30
MAX_TIMEOUT = 180
MAX_REDIRECTS = 5
# The gateway's own work around the outbound call (guard, quota, record).
HTTP_SLACK_SECONDS = 10
ROUTE = "/v1/internal/http"
# What httpx's request building takes; ``auth`` and ``follow_redirects`` are relayed
# apart. Anything else (``extensions``, a typo) is a TypeError naming it.
BUILT_KWARGS = ("params", "headers", "cookies", "content", "data", "files", "json")
# Set by the platform's client for the outbound call, not relayed.
NOT_RELAYED_HEADERS = ("host", "content-length", "transfer-encoding")
# httpx's errors a relayed call may end with, by name (the gateway's detail.exception).
HTTPX_ERRORS = {
    cls.__name__: cls
    for cls in (
        httpx.ConnectTimeout,
        httpx.ReadTimeout,
        httpx.WriteTimeout,
        httpx.PoolTimeout,
        httpx.TimeoutException,
        httpx.ConnectError,
        httpx.ReadError,
        httpx.WriteError,
        httpx.NetworkError,
        httpx.RemoteProtocolError,
        httpx.LocalProtocolError,
        httpx.ProtocolError,
        httpx.TooManyRedirects,
        httpx.UnsupportedProtocol,
        httpx.DecodingError,
        httpx.InvalidURL,
    )
}


class GatewayHTTPClient(HTTPClient):
    """imperal-sdk's HTTPClient whose calls the platform makes (see module doc)."""

    def __init__(self, gateway_url, call_token, user_id, *, timeout=DEFAULT_TIMEOUT):
        super().__init__(
            timeout=timeout, max_redirects=MAX_REDIRECTS, max_timeout=MAX_TIMEOUT
        )
        self._url = gateway_url.rstrip("/") + ROUTE
        self._call_token = call_token
        self._user_id = user_id  # the acting user (``as_user`` scopes a system call)

    async def get(self, url, *, timeout=None, **kwargs):
        """GET ``url``; return an HTTPResponse."""
        return await self.request("GET", url, timeout=timeout, **kwargs)

    async def post(self, url, *, timeout=None, **kwargs):
        """POST to ``url``; return an HTTPResponse."""
        return await self.request("POST", url, timeout=timeout, **kwargs)

    async def put(self, url, *, timeout=None, **kwargs):
        """PUT to ``url``; return an HTTPResponse."""
        return await self.request("PUT", url, timeout=timeout, **kwargs)

    async def patch(self, url, *, timeout=None, **kwargs):
        """PATCH ``url``; return an HTTPResponse."""
        return await self.request("PATCH", url, timeout=timeout, **kwargs)

    async def delete(self, url, *, timeout=None, **kwargs):
        """DELETE ``url``; return an HTTPResponse."""
        return await self.request("DELETE", url, timeout=timeout, **kwargs)

    async def request(self, method, url, *, timeout=None, **kwargs):
        """Send one request through the platform; return imperal-sdk's HTTPResponse
        (a 3xx one too when ``follow_redirects=False``).

        ``kwargs``: httpx's ``params``, ``headers``, ``cookies``, ``content``,
        ``data``, ``files``, ``json``, ``follow_redirects`` and ``auth`` as a
        (user, password) pair or ``httpx.BasicAuth``. Raises ValueError for a
        timeout <= 0 or over the cap (the SDK's rule), TypeError naming an
        argument the platform does not relay, and what ctx.http raises
        in-process (see module doc).
        """
        seconds = self._resolve_timeout(timeout)
        body = relayed(method, url, kwargs)
        body["timeout"] = seconds
        async with shared_http() as client:
            response = await client.post(
                self._url,
                json=body,
                headers={
                    "Authorization": f"ImperalCallToken {self._call_token}",
                    "X-Acting-User": self._user_id,
                },
                timeout=seconds + HTTP_SLACK_SECONDS,
            )
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if response.status_code != 200 or not _is_answer(payload):
            raise _error_of(response)
        if "body_base64" in payload:
            answer_body = base64.b64decode(payload["body_base64"])
        else:
            answer_body = payload.get("body", "")
        return HTTPResponse(
            status_code=payload["status_code"],
            body=answer_body,
            headers=payload.get("headers") or {},
        )

    def __repr__(self):
        return "<ctx.http through the platform's egress guard>"


def relayed(method, url, kwargs):
    """Return the relay body of one request: method, URL, headers and content.

    Raises TypeError naming an argument that is not relayed.
    """
    kwargs = dict(kwargs)
    follow = kwargs.pop("follow_redirects", True)
    auth = kwargs.pop("auth", None)
    unknown = sorted(set(kwargs) - set(BUILT_KWARGS))
    if unknown:
        raise TypeError(
            f"ctx.http in an isolated worker does not relay {', '.join(unknown)}: "
            f"it takes {', '.join(BUILT_KWARGS)}, auth and follow_redirects"
        )
    request = httpx.Request(method, url, **kwargs)
    if auth is not None:
        request.headers["Authorization"] = _basic_authorization(auth, request)
    body = {"method": method, "url": str(request.url), "follow_redirects": bool(follow)}
    headers = {}
    for name, value in request.headers.multi_items():
        if name.lower() not in NOT_RELAYED_HEADERS:
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
    if headers:
        body["headers"] = headers
    content = request.read()
    if content:
        body["content"] = base64.b64encode(content).decode()
    return body


def _basic_authorization(auth, request):
    """Return the Authorization header of ``auth``; TypeError unless it is Basic."""
    if isinstance(auth, tuple | list) and len(auth) == 2:
        auth = httpx.BasicAuth(*auth)
    if not isinstance(auth, httpx.BasicAuth):
        raise TypeError(
            "ctx.http in an isolated worker takes auth as a (user, password) pair "
            f"or httpx.BasicAuth, got {type(auth).__name__}: the platform relays "
            "one request, not an authentication flow"
        )
    return next(auth.sync_auth_flow(request)).headers["Authorization"]


def _is_answer(payload):
    return isinstance(payload, dict) and "status_code" in payload


def _error_of(response):
    """Return the exception of the gateway's error answer (see module doc)."""
    error = error_body_of(response)
    detail = error.get("detail") if isinstance(error.get("detail"), dict) else {}
    httpx_error = HTTPX_ERRORS.get(detail.get("exception"))
    if error.get("code") in ("timeout", "bad_gateway") and httpx_error is not None:
        return httpx_error(str(detail.get("reason", "")))
    return error_of(response, "ctx.http", EGRESS_ERRORS)
