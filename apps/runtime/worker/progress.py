"""``ctx.progress`` in an isolated worker: reports sent to the kernel through the gateway.

In-process, ``ctx.progress(percent, message)`` goes to the sink the kernel gave
the call (a fire's heartbeat, the CLI's printer). A worker sends it to the
gateway's ``POST /v1/internal/progress`` with the call token; the kernel waiting
for the call hands it to the same sink (apps/runtime/progress.py). At most one
report leaves every ``interval`` seconds: the last one wins, sent when the
interval has passed or when the call ends. A report the gateway refuses or
cannot take is logged, never raised (progress is advisory); a ``percent`` that
is not a number raises TypeError, as in-process.
"""

import asyncio
import logging
import numbers
import time

import httpx
from imperal_sdk._shared_http import shared_http

logger = logging.getLogger("imperal.worker")
ROUTE = "/v1/internal/progress"
MESSAGE_MAX_CHARS = 4000  # the kernel keeps 500 of them
HTTP_TIMEOUT = 10


class ProgressSender:
    """Send one call's reports, at most one every ``interval`` seconds.

    ``enabled`` is False when the kernel forwards the call's reports nowhere:
    they are then checked and dropped.
    """

    interval = 1.0

    def __init__(self, gateway_url, call_token, enabled=True):
        self.url = gateway_url.rstrip("/") + ROUTE
        self.headers = {"Authorization": f"ImperalCallToken {call_token}"}
        self.enabled = enabled
        self._pending = None
        self._sent_at = float("-inf")
        self._later = None
        self._waiting = False

    async def report(self, percent, message=""):
        """Send ``(percent, message)`` soon, or once the interval has passed; return None.

        Raises TypeError when ``percent`` is not a number.
        """
        if isinstance(percent, bool) or not isinstance(percent, numbers.Real):
            raise TypeError(
                f"ctx.progress: percent must be a number, got {percent!r:.40}"
            )
        if not self.enabled:
            return
        self._pending = (float(percent), str(message)[:MESSAGE_MAX_CHARS])
        if self._later is not None and not self._later.done():
            return  # the report waiting for its turn takes this one
        # Sent from a task of its own: the handler never waits for the gateway.
        wait = max(0.0, self._sent_at + self.interval - time.monotonic())
        self._later = asyncio.ensure_future(self._send_after(wait))

    async def flush(self):
        """Send the report still waiting, if any; return None (never raises)."""
        later, self._later = self._later, None
        if later is not None and not later.done():
            if self._waiting:
                later.cancel()  # asleep: its report is sent here instead
            await asyncio.gather(later, return_exceptions=True)
        await self._send()

    async def _send_after(self, wait):
        self._waiting = True
        try:
            await asyncio.sleep(wait)
        finally:
            self._waiting = False
        await self._send()

    async def _send(self):
        if self._pending is None:
            return
        (percent, message), self._pending = self._pending, None
        self._sent_at = time.monotonic()
        try:
            async with shared_http() as client:
                response = await client.post(
                    self.url,
                    json={"percent": percent, "message": message},
                    headers=self.headers,
                    timeout=HTTP_TIMEOUT,
                )
        except httpx.HTTPError as exc:
            logger.warning("ctx.progress not sent: %s", type(exc).__name__)
            return
        if response.status_code != 200:
            logger.warning(
                "ctx.progress not kept: the gateway answered %s", response.status_code
            )
