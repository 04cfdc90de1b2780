"""A worker's read-ahead in a ``list_users`` loop, against a fake gateway at the
network edge (httpx.MockTransport under imperal-sdk's shared client): one
batched request once two users asked the same query, each page served once,
fresh and never older than the call's own writes, and the plain query whenever
read-ahead cannot serve. The gateway's route: tests/gateway/test_query_users_route.py;
real workers: tests/runtime/test_fires.py."""

import asyncio
import json

import httpx
import imperal_sdk._shared_http as sdk_http
import pytest
from asgiref.sync import async_to_sync

from apps.runtime.worker.context import build_worker_context
from apps.runtime.worker.envelope import Identity, Invocation
from apps.runtime.worker.readahead import ReadAhead

USERS = [f"u{n}" for n in range(1, 7)]
QUERY_USERS = "/v1/internal/store/contacts/query_users"


class FakeGateway:
    """The store routes a fan-out uses, over per-user lists of documents."""

    def __init__(self, users=USERS, page_size=500):
        self.docs = {
            user: [{"id": f"{user}-0", "data": {"n": 0}, "etag": f"{user}-e0"}]
            for user in users
        }
        self.users, self.page_size = list(users), page_size
        self.seen = []  # (route, acting user or users)
        self.refuse = {}  # route, or (route, acting user) -> status it answers
        self.batch_read = asyncio.Event()  # query_users has read its pages
        self.batch_gate = None  # an asyncio.Event query_users then waits on

    async def __call__(self, request):
        path, body = request.url.path, json.loads(request.content or b"{}")
        route = path.rsplit("/", 1)[-1] if "/store/" in path else path
        acting = request.headers.get("X-Acting-User")
        self.seen.append((route, body.get("users") or acting))
        refused = self.refuse.get(route) or self.refuse.get((route, acting))
        if refused:
            return self.error(refused)
        return await self.answer(request, route, body, acting)

    async def answer(self, request, route, body, acting):
        if route == "list_users":
            return self.listing(request.url.params.get("cursor"))
        if route == "query":
            return httpx.Response(200, json=self.page(acting, body))
        if route == "query_users":
            pages = {user: self.page(user, body) for user in body["users"]}
            self.batch_read.set()
            if self.batch_gate is not None:
                await self.batch_gate.wait()
            return httpx.Response(200, json={"pages": pages})
        if route == "/v1/internal/store":
            doc = {"id": f"{acting}-{len(self.docs[acting])}", "data": body["data"]}
            self.docs[acting].append(doc)
            return httpx.Response(201, json=doc)
        return self.document(request, route, body, acting)

    def document(self, request, doc_id, body, acting):
        docs = self.docs[acting]
        found = next((d for d in docs if d["id"] == doc_id), None)
        if request.method == "DELETE":
            docs.remove(found)
            return httpx.Response(200, json={"deleted": True})
        if found is None:
            return self.error(404)
        if request.method == "PATCH":
            found["data"] = {**found["data"], **body["data"]}
        return httpx.Response(200, json=found)

    def listing(self, cursor):
        start = 0 if cursor in (None, "0") else int(cursor)
        ids = self.users[start : start + self.page_size]
        more = start + self.page_size < len(self.users)
        next_cursor = str(start + self.page_size) if more else None
        return httpx.Response(
            200, json={"user_ids": ids, "next_cursor": next_cursor, "truncated": False}
        )

    def page(self, user, body):
        where = body.get("where") or {}
        docs = [
            d
            for d in self.docs.get(user, [])
            if all(d["data"].get(k) == v for k, v in where.items())
        ]
        return {"data": docs[: body["limit"]], "cursor": None, "has_more": False}

    def error(self, status):
        body = {"error": {"code": "forbidden", "message": "refused", "detail": {}}}
        return httpx.Response(status, json=body)

    def count(self, route):
        return sum(1 for seen, _ in self.seen if seen == route)


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


@pytest.fixture
def gateway(monkeypatch):
    """The fake gateway, as imperal-sdk's shared HTTP client's transport."""
    fake = FakeGateway()
    client = httpx.AsyncClient(transport=httpx.MockTransport(fake))
    monkeypatch.setattr(sdk_http, "get_shared_client", lambda: client)
    return fake


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(ReadAhead, "clock", clock)
    return clock


def system_ctx():
    invocation = Invocation(
        app_id="contacts-app",
        kind="schedule",
        name="digest",
        identity=Identity(user_id="__system__", tenant_id="default"),
        timeout=30,
    )
    return build_worker_context(None, invocation, "call-token", "http://gateway.test")


def run(handler, **kwargs):
    """Run ``handler(ctx, **kwargs)`` as a system call; return what it returns."""
    return async_to_sync(handler)(system_ctx(), **kwargs)


def pages_of(found):
    return {user: [d.id for d in page.data] for user, page in found.items()}


def contents(page):
    return [(d.id, d.data.get("n")) for d in page.data]


async def digest(ctx, where=None, each=None):
    """The seed's loop: the same query for every user (``where(user)`` if given)."""
    found = {}
    async for user_ctx in ctx.store.list_users("contacts"):
        if each is not None:
            await each(ctx, str(user_ctx))
        asked = where(str(user_ctx)) if where else None
        found[str(user_ctx)] = await user_ctx.store.query("contacts", asked, None, 10)
    return found


def test_two_users_asking_the_same_query_read_the_rest_ahead_in_one_request(
    gateway, clock
):
    found = run(digest)
    assert pages_of(found) == {user: [f"{user}-0"] for user in USERS}
    assert [s for s in gateway.seen if s[0] != "list_users"] == [
        ("query", "u1"),
        ("query_users", USERS[1:]),
    ]
    gateway.refuse["query_users"] = 404  # the same call without read-ahead
    assert run(digest) == found


def test_a_first_page_has_no_etags_read_ahead_or_not_and_a_cursor_page_has_them(
    gateway, clock
):
    async def first_then_cursor(ctx, user):
        if user == "u2":
            page = await ctx.as_user("u2").store.query("contacts", limit=10, cursor="c")
            cursor_pages.append(page)

    cursor_pages = []
    found = run(digest, each=first_then_cursor)
    assert gateway.count("query_users") == 1  # u2.. read ahead, u1 plainly
    assert {user: [d.etag for d in page.data] for user, page in found.items()} == {
        user: [""] for user in USERS
    }
    assert [[d.etag for d in page.data] for page in cursor_pages] == [["u2-e0"]]
    assert [s for s in gateway.seen if s[0] == "query"] == [
        ("query", "u1"),
        ("query", "u2"),
    ]


def test_a_query_that_differs_per_user_is_never_read_ahead(gateway, clock):
    found = run(digest, where=lambda user: {"owner": user})
    assert pages_of(found) == {user: [] for user in USERS}
    assert gateway.count("query") == len(USERS) and gateway.count("query_users") == 0


def test_a_batch_holds_at_most_batch_size_users_and_the_next_one_asks_again(
    gateway, clock, monkeypatch
):
    monkeypatch.setattr(ReadAhead, "batch_size", 2)
    run(digest)
    batches = [users for route, users in gateway.seen if route == "query_users"]
    assert batches == [["u2", "u3"], ["u4", "u5"], ["u6"]]
    assert gateway.count("query") == 1


def test_a_page_older_than_max_age_is_read_again(gateway, clock):
    async def elsewhere(ctx, user):
        if user == "u3":  # another process wrote to u3 and u4 after the batch
            for other in ("u3", "u4"):
                gateway.docs[other].append({"id": f"{other}-new", "data": {}})
        if user == "u4":
            clock.now += ReadAhead.max_age + 0.01

    found = run(digest, each=elsewhere)
    assert pages_of(found)["u3"] == ["u3-0"]  # within max_age: the page read ahead
    assert pages_of(found)["u4"] == ["u4-0", "u4-new"]
    assert gateway.count("query_users") == 2


@pytest.mark.parametrize("write", ["create", "update", "delete", "set", "for_user"])
def test_the_calls_own_write_to_a_user_drops_its_page(gateway, clock, write):
    async def writes(ctx, user):
        if user != "u3":
            return
        store = ctx.as_user("u5").store
        if write == "create":
            await store.create("contacts", {"n": 1})
        elif write == "update":
            await store.update("contacts", "u5-0", {"n": 2})
        elif write == "delete":
            await store.delete("contacts", "u5-0")
        elif write == "set":
            await store.set("contacts/u5-0", {"n": 3})
        else:
            await ctx.store.for_user("u5").create("contacts", {"n": 1})

    found = run(digest, each=writes)
    created = [("u5-0", 0), ("u5-1", 1)]
    expected = {"update": [("u5-0", 2)], "delete": [], "set": [("u5-0", 3)]}
    assert contents(found["u5"]) == expected.get(write, created)
    batches = [users for route, users in gateway.seen if route == "query_users"]
    assert batches == [USERS[1:], ["u5", "u6"]]
    assert contents(found["u4"]) == [("u4-0", 0)]


def test_a_write_while_the_batch_is_on_its_way_drops_that_users_page(gateway, clock):
    async def handler(ctx):
        users = ctx.store.list_users("contacts")
        first, second = await anext(users), await anext(users)
        await first.store.query("contacts", None, None, 10)
        gateway.batch_gate = asyncio.Event()
        asked = asyncio.ensure_future(second.store.query("contacts", None, None, 10))
        await gateway.batch_read.wait()  # u3's page is read: then the call writes
        await ctx.as_user("u3").store.create("contacts", {"n": 9})
        gateway.batch_gate.set()
        page = await asked
        third = await anext(users)
        found = page, await third.store.query("contacts", None, None, 10)
        await users.aclose()
        return found

    second, third = run(handler)
    assert contents(second) == [("u2-0", 0)]
    assert contents(third) == [("u3-0", 0), ("u3-1", 9)]
    assert gateway.count("query_users") == 2


def test_a_page_is_served_once(gateway, clock):
    async def twice(ctx):
        found = []
        async for user_ctx in ctx.store.list_users("contacts"):
            for _ in range(2):
                found.append(await user_ctx.store.query("contacts", None, None, 10))
        return found

    assert len(run(twice)) == 2 * len(USERS)
    # u1 twice plainly, u2 once batched and once plainly, u3.. likewise.
    assert gateway.count("query_users") == 1
    assert gateway.count("query") == 2 + (len(USERS) - 1)


@pytest.mark.parametrize("failure", [500, 404, "transport"])
def test_a_failed_batch_falls_back_to_the_plain_query_for_the_rest_of_the_call(
    gateway, clock, failure, monkeypatch
):
    if failure == "transport":

        async def broken(request):
            if request.url.path.endswith("/query_users"):
                raise httpx.ConnectError("gateway gone")
            return await FakeGateway.__call__(gateway, request)

        client = httpx.AsyncClient(transport=httpx.MockTransport(broken))
        monkeypatch.setattr(sdk_http, "get_shared_client", lambda: client)
    else:
        gateway.refuse["query_users"] = failure
    found = run(digest)
    assert pages_of(found) == {user: [f"{user}-0"] for user in USERS}
    assert gateway.count("query") == len(USERS)
    assert gateway.count("query_users") == (0 if failure == "transport" else 1)


def test_a_refusal_the_plain_query_gets_still_raises(gateway, clock):
    gateway.refuse["query_users"] = 403
    gateway.refuse[("query", "u2")] = 403
    with pytest.raises(PermissionError, match="refused"):
        run(digest)
    assert [s for s in gateway.seen if s[0] != "list_users"] == [
        ("query", "u1"),
        ("query_users", USERS[1:]),
        ("query", "u2"),
    ]


def test_no_read_ahead_outside_a_list_users_loop(gateway, clock):
    async def handler(ctx):
        return [
            await ctx.as_user(user).store.query("contacts", None, None, 10)
            for user in USERS
        ]

    assert [[d.id for d in p.data] for p in run(handler)] == [
        [f"{user}-0"] for user in USERS
    ]
    assert gateway.count("query") == len(USERS) and gateway.count("query_users") == 0


def test_a_list_users_error_met_while_looking_ahead_raises_where_the_loop_meets_it(
    gateway, clock
):
    gateway.page_size = 3
    real = gateway.listing

    def failing_second_page(cursor):
        return real(cursor) if cursor in (None, "0") else gateway.error(403)

    gateway.listing = failing_second_page
    reached = []

    async def handler(ctx):
        async for user_ctx in ctx.store.list_users("contacts", page_size=3):
            await user_ctx.store.query("contacts", None, None, 10)
            reached.append(str(user_ctx))

    with pytest.raises(PermissionError, match="refused"):
        run(handler)
    assert reached == ["u1", "u2", "u3"]
