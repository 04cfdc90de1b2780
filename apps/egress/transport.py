"""The pinned connector: an httpx transport whose every connection is checked first.

httpx hands each new connection (the first request, and every redirect hop
to another origin) to its pool's network backend with the host and port of
the URL. :class:`PinnedBackend` resolves that host once, asks the guard, and
connects to the checked addresses themselves, never to the name: no later
DNS answer can move the connection. TLS is started by httpcore with the URL's
host as server name, so certificates are still verified against the name.
"""

import asyncio
import functools

import httpcore
import httpx

DEFAULT_LIMITS = httpx.Limits(max_connections=10, max_keepalive_connections=10)


@functools.cache
def shared_ssl_context():
    """Return the process's client SSL context (httpx's defaults: certifi, or
    SSL_CERT_FILE / SSL_CERT_DIR); building one costs milliseconds, using it none."""
    return httpx.create_ssl_context()


class Meter:
    """Bytes written and read on the wire by one client's connections."""

    __slots__ = ("bytes_in", "bytes_out")

    def __init__(self):
        self.bytes_in = 0
        self.bytes_out = 0


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that connects only where ``admit`` says.

    ``admit(host, port)`` is an async callable returning the addresses to
    connect to (resolved and checked), or raising to refuse. ``meter``
    counts the bytes of every stream it opens.
    """

    def __init__(self, admit, meter=None, inner=None):
        self._admit = admit
        self._meter = meter if meter is not None else Meter()
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self, host, port, timeout=None, local_address=None, socket_options=None
    ):
        """Return a stream to the first checked address of ``host`` that answers.

        Raises what ``admit`` raises; httpcore.ConnectTimeout when resolving
        takes longer than ``timeout``; the last address's ConnectError.
        """
        try:
            addresses = await asyncio.wait_for(self._admit(host, port), timeout)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host!r} timed out") from None
        failure = None
        for address in addresses:
            try:
                stream = await self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
                continue
            return MeteredStream(stream, self._meter)
        raise failure

    async def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise httpcore.ConnectError("ctx.http connects over TCP only")

    async def sleep(self, seconds):
        await self._inner.sleep(seconds)


class MeteredStream(httpcore.AsyncNetworkStream):
    """A network stream that adds what passes through it to a Meter."""

    def __init__(self, stream, meter):
        self._stream = stream
        self._meter = meter

    async def read(self, max_bytes, timeout=None):
        data = await self._stream.read(max_bytes, timeout)
        self._meter.bytes_in += len(data)
        return data

    async def write(self, buffer, timeout=None):
        await self._stream.write(buffer, timeout)
        self._meter.bytes_out += len(buffer)

    async def aclose(self):
        await self._stream.aclose()

    async def start_tls(self, ssl_context, server_hostname=None, timeout=None):
        tls = await self._stream.start_tls(ssl_context, server_hostname, timeout)
        return MeteredStream(tls, self._meter)

    def get_extra_info(self, info):
        return self._stream.get_extra_info(info)


class PinnedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport over a PinnedBackend (httpx takes no backend argument;
    its httpcore pool does, so the pool is built here with one)."""

    def __init__(self, backend, *, limits=DEFAULT_LIMITS):
        super().__init__(verify=shared_ssl_context(), limits=limits)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=shared_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=backend,
        )
