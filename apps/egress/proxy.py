"""The egress forward proxy: an isolated worker's only way to the network.

A worker confined to a network namespace (apps.runtime.netns) has no route
out; its ``HTTP_PROXY``/``HTTPS_PROXY`` point here. :func:`serve` handles
one client connection: ``CONNECT host:port`` (a tunnel, for https and any
TCP) or an absolute-form ``http://`` request. Each destination passes the
same :class:`apps.egress.guard.Guard` and rate as ctx.http — resolved once,
the checked address connected to, a refusal recorded and answered ``403``
with the guard's message (header ``X-Imperal-Egress-Rule`` names the rule).

What the proxy cannot do that ctx.http does: see inside a tunnel (no
per-request records, redirects or response-size cap there — each tunnel is
one admitted connection) — see docs/operators/sandbox.md.
"""

import asyncio
import logging
import urllib.parse

import httpcore
import httpx

from apps.accounts.partition import Partition
from apps.common.relay import relay

from .errors import EgressError, EgressRateLimited, EgressRefused
from .guard import Guard, check_scheme
from .limits import take_rate

logger = logging.getLogger(__name__)

# A worker's direct sockets serve no one user: refusals are recorded under this id.
WORKER_USER = "__worker__"
DEFAULT_TENANT = "default"
HEAD_MAX_BYTES = 16 * 1024
HEAD_TIMEOUT_SECONDS = 10
CONNECT_TIMEOUT_SECONDS = 10
RULE_HEADER = "X-Imperal-Egress-Rule"
# Hop-by-hop headers of the client's request that end at the proxy.
_HOP_HEADERS = {"proxy-connection", "proxy-authorization", "connection", "keep-alive"}


class ProxyRequestError(ValueError):
    """The client's request is not one this proxy serves (answered 400)."""


class EgressProxy:
    """The forward proxy of one extension's workers: ``serve`` is an asyncio
    ``start_server`` callback. ``resolver`` (tests: a fake DNS) as for Guard."""

    def __init__(self, app_id, *, tenant_id=DEFAULT_TENANT, resolver=None):
        self.partition = Partition(tenant_id, app_id, WORKER_USER)
        self.guard = Guard(self.partition, resolver=resolver)

    async def serve(self, reader, writer):
        """Answer one client connection; return when both directions have closed."""
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            pass
        finally:
            writer.close()

    async def _serve(self, reader, writer):
        try:
            head = await asyncio.wait_for(
                reader.readuntil(b"\r\n\r\n"), HEAD_TIMEOUT_SECONDS
            )
            method, target, lines = parse_head(head)
            host, port, forwarded = self._destination(method, target, lines)
            upstream = await self._connect(host, port)
        except ProxyRequestError as exc:
            return await reply(writer, 400, "Bad Request", str(exc))
        except asyncio.LimitOverrunError:
            return await reply(writer, 431, "Request Header Fields Too Large", "")
        except EgressRefused as exc:
            return await reply(writer, 403, "Forbidden", str(exc), rule=exc.rule)
        except EgressRateLimited as exc:
            return await reply(writer, 429, "Too Many Requests", str(exc), rule="rate")
        except (EgressError, httpcore.ConnectError, OSError) as exc:
            return await reply(writer, 502, "Bad Gateway", f"{exc}")
        up_reader, up_writer = upstream
        if forwarded is None:
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        else:
            up_writer.write(forwarded)
        await relay(reader, writer, up_reader, up_writer)

    def _destination(self, method, target, lines):
        """Return (host, port, bytes to send first: None for a tunnel)."""
        if method == "CONNECT":
            host, port = split_authority(target)
            return host, port, None
        url = httpx.URL(target)
        if not url.is_absolute_url:
            raise ProxyRequestError(
                f"a proxy request needs an absolute http:// URL, got {target[:80]!r}"
            )
        check_scheme(self.partition, url)
        if url.scheme != "http":
            raise ProxyRequestError("https goes through CONNECT, not a proxied request")
        path = url.raw_path.decode("ascii") or "/"
        return url.host, url.port or 80, origin_form(method, path, lines)

    async def _connect(self, host, port):
        addresses = await self.guard.admit(host, port)
        await asyncio.to_thread(take_rate, self.partition.app_id, host)
        failure = None
        for address in addresses:
            try:
                return await asyncio.wait_for(
                    asyncio.open_connection(str(address), port),
                    CONNECT_TIMEOUT_SECONDS,
                )
            except (OSError, TimeoutError) as exc:
                failure = exc
        raise OSError(f"could not connect to {host}:{port}: {failure}")


def parse_head(head):
    """Return (method, target, header lines) of a request head; ProxyRequestError if bad."""
    try:
        text = head.decode("latin-1")
        request_line, *lines = text.split("\r\n")
        method, target, version = request_line.split(" ")
    except ValueError:
        raise ProxyRequestError("malformed request line") from None
    if not version.startswith("HTTP/1."):
        raise ProxyRequestError(f"unsupported protocol {version[:20]!r}")
    return method.upper(), target, [line for line in lines if line]


def split_authority(target):
    """Return (host, port) of a CONNECT target ``host:port`` or ``[v6]:port``."""
    parsed = urllib.parse.urlsplit(f"//{target}")
    try:
        port = parsed.port
    except ValueError:
        port = None
    if not parsed.hostname or port is None:
        raise ProxyRequestError(f"CONNECT needs host:port, got {target[:80]!r}")
    return parsed.hostname, port


def origin_form(method, path, lines):
    """Return the request head to send upstream: origin-form, one request per connection."""
    kept = [
        line
        for line in lines
        if line.split(":", 1)[0].strip().lower() not in _HOP_HEADERS
    ]
    head = [f"{method} {path} HTTP/1.1", *kept, "Connection: close", "", ""]
    return "\r\n".join(head).encode("latin-1")


async def reply(writer, status, reason, message, rule=None):
    """Send a short plain-text answer and close; return None."""
    body = (message + "\n").encode()
    headers = [
        f"HTTP/1.1 {status} {reason}",
        "Content-Type: text/plain; charset=utf-8",
        f"Content-Length: {len(body)}",
        "Connection: close",
    ]
    if rule:
        headers.append(f"{RULE_HEADER}: {rule}")
    writer.write(("\r\n".join(headers) + "\r\n\r\n").encode() + body)
    await writer.drain()
