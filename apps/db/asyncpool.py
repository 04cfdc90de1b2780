"""A pool of psycopg AsyncConnections that every event loop can share."""

import asyncio
import collections
import threading
import time

from psycopg.pq import TransactionStatus

from .errors import DbOperationalError


class AsyncPool:
    """Idle psycopg AsyncConnections of one extension, shared by every event loop.

    psycopg_pool's AsyncConnectionPool runs its workers on the loop that opened
    it, while this platform runs handlers on a new loop per call
    (async_to_sync in the CLI, the REST views and Celery). A psycopg
    AsyncConnection is tied to no loop between operations, so the idle ones
    wait here and each checkout uses its connection on the caller's loop.
    """

    poll_interval = 0.005  # seconds between looks while every connection is busy

    def __init__(self, connect, size, timeout, app_id):
        self._connect = connect
        self._size = size
        self._timeout = timeout
        self._app_id = app_id
        self._idle = collections.deque()
        self._open = 0
        self._closed = False
        self._lock = threading.Lock()

    async def get(self):
        """Return an idle connection, or a new one; wait while all are busy.

        Raises DbOperationalError when none frees up within the timeout.
        """
        deadline = time.monotonic() + self._timeout
        while True:
            with self._lock:
                if self._idle:
                    conn = self._idle.pop()
                    if not conn.closed:
                        return conn
                    self._open -= 1
                    continue
                if self._open < self._size:
                    self._open += 1
                    break
            if time.monotonic() > deadline:
                raise DbOperationalError(
                    f"no database connection of extension {self._app_id!r} became "
                    f"free within {self._timeout:g} s"
                )
            await asyncio.sleep(self.poll_interval)
        try:
            return await self._connect()
        except BaseException:
            with self._lock:
                self._open -= 1
            raise

    def put(self, conn):
        """Take back a connection; keep it only when it is idle and healthy."""
        if conn.closed or conn.info.transaction_status != TransactionStatus.IDLE:
            self.discard(conn)
            return
        with self._lock:
            if not self._closed:
                self._idle.append(conn)
                return
        self.discard(conn)

    def discard(self, conn):
        with self._lock:
            self._open -= 1
        _close_quietly(conn)

    def close(self):
        with self._lock:
            self._closed = True
            idle, self._idle = list(self._idle), collections.deque()
            self._open -= len(idle)
        for conn in idle:
            _close_quietly(conn)


def _close_quietly(conn):
    # Closing only frees the socket (no await needed), so it works from any
    # thread or loop, including at interpreter exit.
    conn.pgconn.finish()
