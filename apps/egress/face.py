"""ctx.http: imperal-sdk's HTTPClient, sent through the egress guard."""

from imperal_sdk.http.client import HTTPClient

from .client import send
from .errors import EgressError

# imperal-sdk's HTTPClient defaults: 30 s per call, a 180 s cap, 5 redirects.
DEFAULT_TIMEOUT = 30
MAX_TIMEOUT = 180
MAX_REDIRECTS = 5


def http_for(ctx):
    """Return the ctx.http of a PlatformContext, bound to its partition."""
    return EgressHTTPClient(ctx._partition)


class EgressHTTPClient(HTTPClient):
    """imperal-sdk's ``HTTPClient`` for one partition: same methods, timeouts and
    ``HTTPResponse`` results, each call made by :func:`apps.egress.client.send`.

    ``resolver`` (tests: a fake DNS at the network edge) replaces the
    operating system's resolver.
    """

    def __init__(self, partition, *, resolver=None, timeout=DEFAULT_TIMEOUT):
        super().__init__(
            timeout=timeout, max_redirects=MAX_REDIRECTS, max_timeout=MAX_TIMEOUT
        )
        self._partition = partition
        self._resolver = resolver

    async def get(self, url, *, timeout=None, **kwargs):
        """GET ``url``; return an HTTPResponse. Raises as apps.egress.client.send."""
        return await self._send("GET", url, timeout, kwargs)

    async def post(self, url, *, timeout=None, **kwargs):
        """POST to ``url``; return an HTTPResponse."""
        return await self._send("POST", url, timeout, kwargs)

    async def put(self, url, *, timeout=None, **kwargs):
        """PUT to ``url``; return an HTTPResponse."""
        return await self._send("PUT", url, timeout, kwargs)

    async def patch(self, url, *, timeout=None, **kwargs):
        """PATCH ``url``; return an HTTPResponse."""
        return await self._send("PATCH", url, timeout, kwargs)

    async def delete(self, url, *, timeout=None, **kwargs):
        """DELETE ``url``; return an HTTPResponse."""
        return await self._send("DELETE", url, timeout, kwargs)

    async def _send(self, method, url, timeout, kwargs):
        # The SDK's own check: ValueError for a timeout <= 0 or over the cap.
        seconds = self._resolve_timeout(timeout)
        try:
            return await send(
                self._partition,
                method,
                url,
                timeout=seconds,
                max_redirects=self._max_redirects,
                resolver=self._resolver,
                **kwargs,
            )
        except EgressError as exc:
            # httpx hangs its Request (and through it the transport's state) on
            # a RequestError on the way out; the handler gets the refusal alone.
            exc.request = None
            raise

    def __repr__(self):
        return f"<ctx.http {self._partition}>"
