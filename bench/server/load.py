"""A small HTTP/1.1 load generator on asyncio streams: keep-alive, bounded, loopback.

httpx's client costs more per request than some of the servers measured here, so
this speaks just enough HTTP/1.1 (Content-Length or chunked bodies, reconnecting
when a server closes) to keep the client from being what is measured.
"""

import asyncio
import statistics
import time
from dataclasses import dataclass, field

MAX_REQUESTS = 200_000  # per measurement, whatever its duration
CONNECT_TIMEOUT = 5.0
RESPONSE_TIMEOUT = 30.0


@dataclass
class Measurement:
    """Latencies (seconds) of the requests that completed inside the window."""

    seconds: float
    latencies: list = field(default_factory=list)
    completed: int = 0  # 200 answers, warm-up included
    errors: int = 0
    first_error: str = ""

    @property
    def rate(self):
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def percentile(self, fraction):
        """Return the latency at ``fraction`` (0..1) in seconds, or NaN when empty."""
        if len(self.latencies) < 2:
            return self.latencies[0] if self.latencies else float("nan")
        cuts = statistics.quantiles(self.latencies, n=100, method="inclusive")
        return cuts[round(fraction * 100) - 1]


class Connection:
    """One keep-alive connection; reopens itself after the server closes it."""

    def __init__(self, host, port):
        self.host, self.port = host, port
        self.reader = self.writer = None

    async def get(self, path):
        """Send ``GET path``; return the status code once the whole body is read."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), CONNECT_TIMEOUT
            )
        request = f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n\r\n"
        self.writer.write(request.encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        status, headers = _parse_head(head)
        if headers.get("transfer-encoding", "").lower() == "chunked":
            await self._read_chunked()
        else:
            await self.reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return status

    async def _read_chunked(self):
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await self.reader.readexactly(size + 2)
            if size == 0:
                return

    async def close(self):
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except OSError:
                pass
        self.reader = self.writer = None


def _parse_head(head):
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name:
            headers[name.strip().lower()] = value.strip()
    return status, headers


async def drive(host, port, path, clients, seconds, warm_up):
    """Run ``clients`` connections in a closed loop for ``warm_up`` + ``seconds``.

    Return a Measurement of the requests started after the warm-up and finished
    before the window closed (at most MAX_REQUESTS).
    """
    loop = asyncio.get_running_loop()
    start = loop.time() + warm_up
    end = start + seconds
    result = Measurement(seconds=seconds)
    await asyncio.gather(
        *(_client(host, port, path, start, end, result) for _ in range(clients))
    )
    return result


async def _client(host, port, path, start, end, result):
    connection = Connection(host, port)
    loop = asyncio.get_running_loop()
    try:
        while loop.time() < end and len(result.latencies) < MAX_REQUESTS:
            began = time.perf_counter()
            sent_at = loop.time()
            try:
                status = await asyncio.wait_for(connection.get(path), RESPONSE_TIMEOUT)
            except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
                await connection.close()
                _count_error(result, f"{type(exc).__name__}: {exc}")
                continue
            if status != 200:
                _count_error(result, f"HTTP {status}")
                continue
            result.completed += 1
            if sent_at >= start and loop.time() <= end:
                result.latencies.append(time.perf_counter() - began)
    finally:
        await connection.close()


def _count_error(result, message):
    result.errors += 1
    result.first_error = result.first_error or message[:200]
