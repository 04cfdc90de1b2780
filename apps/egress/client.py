"""ctx.http's core: one outbound call of an extension — checked, bounded, recorded.

:func:`send` is what ctx.http calls (and isolated workers' relays later):
imperal-sdk's ``HTTPClient`` semantics
(httpx, redirects followed up to a cap, ``HTTPResponse`` results) over a
:class:`PinnedTransport` whose connections the :class:`Guard` admits, inside
the extension's rate and connection slots, with the response read up to
IMPERAL_EGRESS_MAX_RESPONSE_BYTES. Each call, however it ends, is counted and
recorded (apps.egress.records). :class:`GuardedTransport` gives a library
that sends its own requests (an AI provider's client, for ctx.ai) the same
path, one request at a time.
"""

import asyncio
import time

import httpx
from django.utils import timezone
from imperal_sdk.http.client import _wrap

from apps.quotas.errors import QuotaExceeded

from . import limits
from .errors import EgressError, ResponseTooLarge
from .guard import Guard, check_scheme
from .models import Outcome
from .records import recorder
from .transport import Meter, PinnedBackend, PinnedTransport

# httpx's errors as OutboundCall error codes (a fixed set; first match wins).
ERROR_CODES = (
    (httpx.TimeoutException, "timeout"),
    (httpx.ConnectError, "connect_error"),
    (httpx.TooManyRedirects, "too_many_redirects"),
    (httpx.UnsupportedProtocol, "unsupported_protocol"),
    (httpx.ProtocolError, "protocol_error"),
    (httpx.InvalidURL, "invalid_url"),
    (httpx.HTTPError, "http_error"),
)
FIELD_MAX = 255
DEFAULT_PORTS = {"http": 80, "https": 443}


async def send(
    partition, method, url, *, timeout, max_redirects, resolver=None, **kwargs
):
    """Make one outbound call for ``partition``; return imperal-sdk's HTTPResponse.

    ``kwargs`` are httpx's request arguments (params, headers, json, …).
    Raises EgressRefused (scheme or destination, recorded as a security
    event), QuotaExceeded (the user's ``egress.calls`` per minute),
    EgressRateLimited, EgressBusy, ResponseTooLarge, or what httpx
    raises (ConnectError, a TimeoutException, TooManyRedirects, InvalidURL).
    """
    call = _Call(partition, method, url)
    try:
        target = httpx.URL(url)
        call.target(target)
        check_scheme(partition, target)
        await limits.take_user_quota(partition)
        limits.take_rate(partition.app_id, target.host)
        async with limits.slots.slot(partition.app_id, target.host, timeout):
            response = await _fetch(
                call,
                Guard(partition, resolver),
                method,
                target,
                timeout,
                max_redirects,
                kwargs,
            )
    except (Exception, asyncio.CancelledError) as exc:
        call.failed(exc)
        raise
    finally:
        call.record()
    return response


async def _fetch(call, guard, method, target, timeout, max_redirects, kwargs):
    backend = PinnedBackend(guard.admit, call.meter)
    async with httpx.AsyncClient(
        transport=PinnedTransport(backend),
        timeout=timeout,
        follow_redirects=True,
        max_redirects=max_redirects,
    ) as client:
        async with client.stream(method, target, **kwargs) as response:
            await read_capped(response, limits.max_response_bytes())
            call.answered(response)
            return _wrap(response)


async def read_capped(response, cap):
    """Read ``response``'s decoded body, at most ``cap`` bytes of it; return None.

    Raises ResponseTooLarge as soon as the body passes ``cap`` (nothing past
    it is read); the response is then closed with its connection.
    """
    chunks, size = [], 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > cap:
            raise ResponseTooLarge(
                f"ctx.http stopped reading the answer from {response.url.host}: its "
                f"body passed {cap} bytes (rule size, IMPERAL_EGRESS_MAX_RESPONSE_BYTES)",
                rule="size",
                host=response.url.host,
            )
        chunks.append(chunk)
    # What httpx's own aread() leaves behind, so .content, .text and .json() work.
    response._content = b"".join(chunks)


class GuardedTransport(httpx.AsyncBaseTransport):
    """An httpx transport sending each request as :func:`send` does: scheme, rate,
    a connection slot, the guard on every connection, the size cap, the record.

    For a library that makes its own requests for an extension (ctx.ai's
    provider client). ``policy`` replaces the operator's policy for these
    requests (ctx.ai adds the provider's host to it); ``timeout`` bounds the
    wait for a connection slot.
    """

    def __init__(self, partition, *, timeout, policy=None, resolver=None):
        self._partition = partition
        self._guard = Guard(partition, resolver, policy)
        self._timeout = timeout

    async def handle_async_request(self, request):
        """Return the answer to ``request``, its body read; raise as :func:`send`."""
        partition, url = self._partition, request.url
        call = _Call(partition, request.method, str(url))
        try:
            call.target(url)
            check_scheme(partition, url)
            limits.take_rate(partition.app_id, url.host)
            async with limits.slots.slot(partition.app_id, url.host, self._timeout):
                return await self._fetch(call, request)
        except (Exception, asyncio.CancelledError) as exc:
            call.failed(exc)
            raise
        finally:
            call.record()

    async def _fetch(self, call, request):
        async with PinnedTransport(
            PinnedBackend(self._guard.admit, call.meter)
        ) as pinned:
            response = await pinned.handle_async_request(request)
            response.request = request
            try:
                await read_capped(response, limits.max_response_bytes())
            finally:
                await response.aclose()
        call.answered(response)
        # The body is decoded already: its encoding and length headers no longer hold.
        headers = [
            (name, value)
            for name, value in response.headers.multi_items()
            if name.lower() not in DECODED_HEADERS
        ]
        return httpx.Response(
            response.status_code, headers=headers, content=response.content
        )


DECODED_HEADERS = ("content-encoding", "content-length", "transfer-encoding")


class _Call:
    """What is known of one call so far: the OutboundCall row it leaves."""

    def __init__(self, partition, method, url):
        self.started = time.perf_counter()
        self.meter = Meter()
        self.row = {
            **partition.fields(),
            "started_at": timezone.now(),
            "method": str(method).upper()[:16],
            "scheme": "",
            "host": "",
            "port": None,
            "outcome": Outcome.OK,
        }

    def target(self, url):
        port = url.port or DEFAULT_PORTS.get(url.scheme)
        self.row.update(scheme=url.scheme[:16], host=url.host[:FIELD_MAX], port=port)

    def answered(self, response):
        self.row.update(status=response.status_code, redirects=len(response.history))

    def failed(self, exc):
        if isinstance(exc, QuotaExceeded):
            self.row.update(
                outcome=Outcome.RATE_LIMITED, error_code=exc.code, rule="quota"
            )
            return
        if isinstance(exc, EgressError):
            self.row.update(
                outcome=exc.outcome, error_code=exc.code, rule=exc.rule or ""
            )
            if exc.host and exc.host != self.row["host"]:
                self.row["refused_host"] = str(exc.host)[:FIELD_MAX]
            return
        if isinstance(exc, asyncio.CancelledError):  # the handler's own timeout
            self.row.update(outcome=Outcome.FAILED, error_code="cancelled")
            return
        code = next((c for kind, c in ERROR_CODES if isinstance(exc, kind)), "error")
        timed_out = isinstance(exc, httpx.TimeoutException)
        self.row.update(outcome=Outcome.TIMEOUT if timed_out else Outcome.FAILED)
        self.row["error_code"] = code

    def record(self):
        self.row.update(
            duration_ms=(time.perf_counter() - self.started) * 1000,
            bytes_in=self.meter.bytes_in,
            bytes_out=self.meter.bytes_out,
        )
        recorder.record(self.row)
