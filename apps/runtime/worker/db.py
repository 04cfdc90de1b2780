"""ctx.db in an isolated worker: the in-process API, each statement run by the platform.

``async with ctx.db.session() as s: rows = await s.execute(sql, params)`` is
one transaction (committed when the block ends, rolled back when it raises);
``ctx.db.acquire()`` gives a connection where each statement commits. The
worker opens no socket to a database: every statement goes to the gateway
(``POST /v1/internal/db/…``, apps/gateway/views/db.py) with the invocation's
call token, and the platform runs it as the extension, exactly as in-process.

A ``session()`` is a transaction the gateway holds between requests, in the
gateway process that opened it, so each block sends all its requests over one
dedicated keep-alive connection. Differences from in-process: each statement
of an ``acquire()`` block may run on another pooled connection (session state
such as ``SET`` or TEMP tables lasts one statement; use ``session()`` for
it), and a session idle for IDLE_IN_TRANSACTION_TIMEOUT is rolled back by the
platform on SQLite too. Errors are :mod:`.dberrors`' classes, named as
``apps.db.errors``' are.
"""

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Mapping

import httpx

from . import dbwire
from .dberrors import (
    DbError,
    DbOperationalError,
    DbParameterError,
    DbProgrammingError,
    error_of,
)

logger = logging.getLogger("imperal.worker")

ROUTE = "/v1/internal/db"
CONNECT_TIMEOUT = 10.0


class WorkerDb:
    """``ctx.db``: ``session()`` (one transaction) and ``acquire()`` (autocommit)."""

    __slots__ = ("_app_id", "_url", "_call_token")

    def __init__(self, gateway_url, call_token, app_id):
        self._url = gateway_url.rstrip("/") + ROUTE
        self._call_token = call_token
        self._app_id = app_id

    @property
    def app_id(self):
        """The extension whose area this face reaches; fixed when it is built."""
        return self._app_id

    @app_id.setter
    def app_id(self, value):
        raise AttributeError(
            "ctx.db.app_id is fixed when the context is built; an extension's SQL "
            "reaches only its own schema"
        )

    @property
    def backend(self):
        """Raise AttributeError: ctx.db has no backend."""
        raise AttributeError(
            "ctx.db has no backend: an extension reaches only its own schema, "
            "through ctx.db.session() and ctx.db.acquire()"
        )

    def session(self):
        """Return a context manager for one transaction: committed on success,
        rolled back when the block raises."""
        return DbScope(self, autocommit=False)

    def acquire(self):
        """Return a context manager for a connection where each statement commits."""
        return DbScope(self, autocommit=True)

    def _client(self):
        # One connection per block: a session's requests reach the gateway
        # process holding it, and a block pays for one TCP connection only.
        return httpx.AsyncClient(
            headers={"Authorization": f"ImperalCallToken {self._call_token}"},
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
            timeout=httpx.Timeout(None, connect=CONNECT_TIMEOUT),
            verify=_tls_context(),
        )

    def __repr__(self):
        return f"<ctx.db {self._app_id}>"


@functools.cache
def _tls_context():
    """Return httpx's default TLS context, made once: making it loads the CA
    bundle, tens of milliseconds a client would otherwise pay."""
    return httpx.create_ssl_context()


class DbScope:
    """What ``session()`` and ``acquire()`` return: ``async with`` it for a
    DbConnection; leaving the block commits (or rolls back) and releases it."""

    __slots__ = ("_db", "_autocommit", "_conn")

    def __init__(self, db, autocommit):
        self._db = db
        self._autocommit = autocommit
        self._conn = None

    async def __aenter__(self):
        conn = DbConnection(self._db._url, self._db._client())
        try:
            if not self._autocommit:
                await conn._begin()
        except BaseException:
            await conn._client.aclose()
            raise
        self._conn = conn
        return conn

    async def __aexit__(self, exc_type, exc, tb):
        conn, self._conn = self._conn, None
        try:
            await conn._stop_keeping_alive()
            if conn._session is not None:
                await conn._end(commit=exc_type is None)
        finally:
            await conn._client.aclose()
        return False


class DbConnection:
    """What ``session()`` and ``acquire()`` yield."""

    __slots__ = ("_url", "_client", "_session", "_last", "_stop", "_keeper")

    def __init__(self, url, client):
        self._url = url
        self._client = client
        self._session = None
        self._last = time.monotonic()  # when the last request ended
        self._stop = None
        self._keeper = None

    async def execute(self, sql, params=None):
        """Run ``sql`` with ``:name`` parameters from ``params``; return a Result.

        Raises the DbError subclasses of :mod:`.dberrors`: DbParameterError
        (nothing ran), DbPermissionError, DbProgrammingError, DbIntegrityError, ...
        """
        if not isinstance(sql, str):
            raise TypeError(f"sql must be a string, got {type(sql).__name__}")
        body = {"sql": sql, "params": _params(params)}
        if self._session is not None:
            body["session"] = self._session
        return result_of(await self._post("execute", body))

    async def _begin(self):
        answer = await self._post("begin", {})
        self._session = answer["session"]
        interval = answer.get("keepalive") or 0
        if interval > 0:
            self._stop = asyncio.Event()
            self._keeper = asyncio.create_task(self._keep_alive(interval))

    async def _keep_alive(self, interval):
        """Ping the session while it idles, so the gateway keeps its connection
        open (a new one may reach a process that does not hold the session)."""
        while not self._stop.is_set():
            wait = self._last + interval - time.monotonic()
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), wait)
                continue
            try:
                await self._post("ping", {"session": self._session})
            except DbError:
                return  # the next statement says what is wrong

    async def _stop_keeping_alive(self):
        # A ping in flight finishes: cancelling it would close the connection.
        if self._keeper is not None:
            self._stop.set()
            await self._keeper

    async def _end(self, commit):
        session, self._session = self._session, None
        if commit:
            await self._post("commit", {"session": session})
            return
        try:
            await self._post("rollback", {"session": session})
        except Exception as exc:  # never hide the exception that is leaving the block
            logger.warning(
                "ctx.db: the rollback of a session failed (%s); the platform rolls "
                "it back when it has been idle long enough",
                type(exc).__name__,
            )

    async def _post(self, action, body):
        try:
            response = await self._client.post(f"{self._url}/{action}", json=body)
        except httpx.HTTPError as exc:
            raise DbOperationalError(
                f"ctx.db: the platform could not be reached ({type(exc).__name__})"
            ) from exc
        finally:
            self._last = time.monotonic()
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if response.status_code != 200 or not isinstance(payload, dict):
            raise error_of(response.status_code, payload)
        return payload


def _params(params):
    """Return ``params`` in dbwire's form; raise DbParameterError (not a mapping)
    or DbProgrammingError (a value of a type the database cannot take)."""
    if params is None:
        return None
    if not isinstance(params, Mapping):
        raise DbParameterError(
            f"params must be a mapping of :name values, got {type(params).__name__}"
        )
    try:
        return {str(name): dbwire.encode(value) for name, value in params.items()}
    except dbwire.UnsupportedValue as exc:
        raise DbProgrammingError(str(exc)) from None


class Result:
    """Every row of one statement, plus ``rowcount``: apps.db.result.Result's API.

    Iterating yields one ``dict`` per row (``dict(r)`` and ``r["col"]``
    work); when two columns share a name the later one wins. A statement
    that returns no rows has ``columns == ()`` and no rows.
    """

    __slots__ = ("columns", "rowcount", "_rows", "_scalar")

    def __init__(self, columns, rows, rowcount, scalar):
        self.columns = tuple(columns)
        self.rowcount = rowcount
        self._rows = [dict(zip(self.columns, row, strict=True)) for row in rows]
        self._scalar = scalar

    def __iter__(self):
        return iter(self._rows)

    def __len__(self):
        return len(self._rows)

    def all(self):
        """Return the list of rows."""
        return list(self._rows)

    def first(self):
        """Return the first row, or None when there is none."""
        return self._rows[0] if self._rows else None

    def scalar(self):
        """Return the first column of the first row, or None when there is no row."""
        return self._scalar

    def __repr__(self):
        return f"<Result {len(self._rows)} row(s), rowcount={self.rowcount}>"


def result_of(payload):
    """Return the Result of a gateway answer (values in dbwire's form)."""
    rows = [[dbwire.decode(v, strict=False) for v in row] for row in payload["rows"]]
    scalar = dbwire.decode(payload.get("scalar"), strict=False)
    return Result(payload["columns"], rows, payload["rowcount"], scalar)
