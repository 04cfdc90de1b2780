"""ctx.http in an isolated worker: imperal-sdk's HTTPClient, sent through the platform.

Each request goes to the gateway's ``POST /v1/internal/http`` with the
invocation's call token; the platform makes it through the egress guard as
the invocation's user (the same core as ctx.http in-process) and answers
imperal-sdk's ``HTTPResponse``. A refusal raises :class:`WorkerEgressError`
(an ``ImperalError`` and an ``httpx.RequestError``; ``PermissionError`` too
for a refused destination) whose message names the rule and the host.
"""

import base64

import httpx
from imperal_sdk._shared_http import shared_http
from imperal_sdk.errors import ImperalError
from imperal_sdk.http.client import HTTPClient
from imperal_sdk.types.models import HTTPResponse

# imperal-sdk's HTTPClient defaults: 30 s per call, a 180 s cap, 5 redirects.
DEFAULT_TIMEOUT = 30
MAX_TIMEOUT = 180
MAX_REDIRECTS = 5
# The gateway's own work around the outbound call (guard, quota, record).
HTTP_SLACK_SECONDS = 10
ROUTE = "/v1/internal/http"


class WorkerEgressError(ImperalError, httpx.RequestError):
    """The platform did not make the call; ``code``, ``rule`` and ``host`` say why."""

    def __init__(self, message, *, code, rule, host):
        self.rule = rule
        self.host = host
        super().__init__(message, code)


class WorkerEgressRefused(WorkerEgressError, PermissionError):
    """The egress policy does not let this extension reach this destination."""


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
        """Send one request through the platform; return imperal-sdk's HTTPResponse.

        ``kwargs``: httpx's ``headers``, ``params``, ``json``, ``content``
        (bytes or str), ``data`` (a dict: form-encoded) and ``follow_redirects``.
        Raises ValueError for a timeout <= 0 or over the cap (the SDK's rule),
        TypeError for an argument the platform does not relay, WorkerEgressError.
        """
        seconds = self._resolve_timeout(timeout)
        body = {"method": method, "url": str(url), "timeout": seconds}
        body.update(_relayed(kwargs))
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
        if not isinstance(payload, dict):
            payload = {}
        if response.status_code != 200 or "status_code" not in payload:
            raise _error_of(payload.get("error") or {}, response.status_code)
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


def _relayed(kwargs):
    body = {}
    for name in ("headers", "params"):
        if kwargs.get(name) is not None:
            body[name] = {str(k): str(v) for k, v in dict(kwargs.pop(name)).items()}
    if "json" in kwargs:
        body["json"] = kwargs.pop("json")
    content = kwargs.pop("content", None)
    data = kwargs.pop("data", None)
    if isinstance(data, dict):
        content = httpx.QueryParams(data).__str__().encode()
        body.setdefault("headers", {})
        body["headers"].setdefault("Content-Type", "application/x-www-form-urlencoded")
    elif data is not None:
        content = data
    if content is not None:
        raw = content.encode() if isinstance(content, str) else bytes(content)
        body["content"] = base64.b64encode(raw).decode()
    if "follow_redirects" in kwargs:
        body["follow_redirects"] = bool(kwargs.pop("follow_redirects"))
    if kwargs:
        raise TypeError(
            f"ctx.http in an isolated worker does not relay {', '.join(sorted(kwargs))}"
        )
    return body


def _error_of(error, status):
    code = error.get("code") or "egress_error"
    detail = error.get("detail") or {}
    message = error.get("message") or f"ctx.http: the gateway answered {status}"
    kind = (
        WorkerEgressRefused
        if code in ("egress_refused", "forbidden")
        else (WorkerEgressError)
    )
    return kind(message, code=code, rule=detail.get("rule"), host=detail.get("host"))
