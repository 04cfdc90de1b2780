"""Read-ahead of a fan-out's per-user queries: one gateway request for many users.

In a ``list_users`` loop a handler usually asks every user the same query
(the seed's digest: ``user_ctx.store.query("contacts", limit=10)``), one
gateway round trip each. Once two users in a row asked the identical query
(collection, where, order_by, limit; no cursor), :class:`ReadAhead` fetches
that user's and the loop's next users' first pages with one
``POST /v1/internal/store/{collection}/query_users``. A page read ahead is
served once, for the identical query of its user, while younger than
``max_age``, and never after the call wrote to that user's store since it was
asked for: what the handler reads is what the plain query would have answered
at most ``max_age`` earlier, never older than the call's own writes. Any
failure of the batched request falls back to the plain query (which raises
as it does without read-ahead) and ends read-ahead for the call.
"""

import collections
import contextlib
import json
import logging
import time
from dataclasses import dataclass

import httpx
from imperal_sdk._shared_http import shared_http

from .envelope import CALL_TOKEN_SCHEME, PRIVILEGED_IDS
from .pages import query_page

logger = logging.getLogger("imperal.worker")


class UpcomingUsers:
    """A ``list_users`` iterator that can show the ids its loop has not reached.

    Pulling ids ahead never raises: an error of the iterator is kept and
    raised by :meth:`next` when the loop reaches it, as without look-ahead.
    """

    def __init__(self, users):
        self._users = users
        self._ahead = collections.deque()
        self._error = None
        self._ended = False

    async def next(self):
        """Return the next id; raise StopAsyncIteration after the last one, or
        the error the iterator raised at that point."""
        if self._ahead:
            return self._ahead.popleft()
        if self._error is not None:
            error, self._error = self._error, None
            self._ended = True
            raise error
        if self._ended:
            raise StopAsyncIteration
        return await anext(self._users)

    async def peek(self, count):
        """Return up to ``count`` of the ids after the current one."""
        while len(self._ahead) < count and not self._ended and self._error is None:
            try:
                self._ahead.append(await anext(self._users))
            except StopAsyncIteration:
                self._ended = True
            except Exception as exc:  # raised by next() when the loop gets there
                self._error = exc
        return list(self._ahead)[:count]


@dataclass(frozen=True)
class _Ahead:
    """A page read ahead, and when it was asked for (``ReadAhead.clock``)."""

    page: object
    taken_at: float


class BatchFailed(Exception):
    """The gateway did not answer a batched read with pages."""


class ReadAhead:
    """The read-ahead of one call, shared by every context scoped from it."""

    batch_size = 50  # users per batched request (the gateway takes up to 100)
    max_age = 1.0  # seconds a page read ahead may be served after it was asked for
    queries_remembered = 8  # distinct queries whose last user is remembered
    timeout = 30
    clock = staticmethod(time.monotonic)

    def __init__(self, gateway_url, call_token, extension_id, tenant_id):
        self.url = gateway_url.rstrip("/")
        self.headers = {
            "Authorization": f"{CALL_TOKEN_SCHEME} {call_token}",
            "X-Extension-ID": extension_id,
            "X-Tenant-ID": tenant_id,
        }
        self._upcoming = None  # the UpcomingUsers of the running list_users loop
        self._pages = {}  # (user id, query key) -> _Ahead
        self._asked = collections.OrderedDict()  # query key -> last user asking it
        self._in_flight = 0  # batched requests not answered yet
        self._written = set()  # users written to while one was in flight
        self._off = False

    @contextlib.contextmanager
    def loop(self, upcoming):
        """Read ahead among ``upcoming`` (an UpcomingUsers) while inside."""
        outer, self._upcoming = self._upcoming, upcoming
        try:
            yield upcoming
        finally:
            self._upcoming = outer
            if outer is None:
                self._pages.clear()

    def wrote(self, user_id):
        """The call wrote (or tried to) to ``user_id``'s store: drop its pages,
        and those of any batch asked for before this write ended."""
        if self._in_flight:
            self._written.add(user_id)
        for taken in [k for k in self._pages if k[0] == user_id]:
            del self._pages[taken]

    async def query(self, user_id, query, plain):
        """Return ``user_id``'s first page of ``query`` (a StoreQuery): read ahead
        when one is held or the last user asked the same, else ``await plain()``."""
        key = query.key()
        if self._off or self._upcoming is None or key is None:
            return await plain()
        if user_id in PRIVILEGED_IDS:
            return await plain()
        repeated = self._asked.get(key, user_id) != user_id
        self._remember(key, user_id)
        page = self._take(user_id, key)
        if page is None and repeated:
            page = await self._fetch(user_id, query, key)
        return page if page is not None else await plain()

    def _remember(self, key, user_id):
        self._asked[key] = user_id
        self._asked.move_to_end(key)
        while len(self._asked) > self.queries_remembered:
            self._asked.popitem(last=False)

    def _take(self, user_id, key):
        taken = self._pages.pop((user_id, key), None)
        if taken is None or self.clock() - taken.taken_at > self.max_age:
            return None
        return taken.page

    async def _fetch(self, user_id, query, key):
        """Read ``user_id``'s and the next users' pages ahead; return the first,
        or None (read-ahead off for the call) when the batch failed."""
        upcoming = await self._upcoming.peek(self.batch_size - 1)
        users = [user_id]
        users += [
            u for u in dict.fromkeys(upcoming) if u not in (user_id, *PRIVILEGED_IDS)
        ]
        taken_at = self.clock()
        self._in_flight += 1
        try:
            pages = await self._request(query, users)
        except (httpx.HTTPError, BatchFailed) as exc:
            self._off = True
            logger.warning("read-ahead off for this call: %s", exc)
            return None
        finally:
            self._in_flight -= 1
        self._expire()
        for other, page in pages.items():
            if other not in self._written:
                self._pages[(other, key)] = _Ahead(page, taken_at)
        if not self._in_flight:
            self._written = set()
        return self._take(user_id, key)

    def _expire(self):
        now = self.clock()
        for stale in [
            k for k, v in self._pages.items() if now - v.taken_at > self.max_age
        ]:
            del self._pages[stale]

    async def _request(self, query, users):
        """Return {user id: Page} the gateway read for ``users``; raise BatchFailed
        (or an httpx error) when it answered anything else."""
        async with shared_http() as client:
            response = await client.post(
                f"{self.url}/v1/internal/store/{query.collection}/query_users",
                json={**query.body(), "users": users},
                headers=self.headers,
                timeout=self.timeout,
            )
        if response.status_code != 200:
            raise BatchFailed(f"the gateway answered {response.status_code}")
        try:
            raw = response.json()["pages"]
            return {
                user: query_page(query.collection, raw[user], etags=False)
                for user in users
            }
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BatchFailed(f"malformed answer: {type(exc).__name__}") from None


@dataclass(frozen=True)
class StoreQuery:
    """One first-page query of ``ctx.store.query``, as imperal-sdk sends it."""

    collection: str
    where: object
    order_by: object
    limit: object

    def body(self):
        """Return the request body fields imperal-sdk's query sends."""
        return {
            "where": self.where or {},
            "order_by": self.order_by,
            "limit": self.limit,
        }

    def key(self):
        """Return what identifies the query, or None for one that cannot be compared
        (not JSON: the plain query is the one to refuse it)."""
        try:
            return json.dumps([self.collection, self.body()], sort_keys=True)
        except (TypeError, ValueError):
            return None
