"""imperal-sdk 6.3.7's own StoreClient, CacheClient and NotifyClient against the
production server (scripts/serve.sh) on a free loopback port: every operation
answers as the in-process ctx does, on the same documents, entries and rows."""

import httpx
import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from imperal_sdk.cache import CacheClient
from imperal_sdk.notify.client import NotifyClient
from imperal_sdk.store.client import StoreClient
from imperal_sdk.store.exceptions import StoreConflict

from apps.accounts.identity import PlatformUserContext, system_user_context
from apps.accounts.partition import Partition
from apps.cache import entries
from apps.cache.core import get_core
from apps.extensions.context import build_context
from apps.gateway.tokens import issue_token
from apps.notifications.models import Notification
from tests.fixtures.extensions.cache_probe import DashboardView, ResourceSummary
from tests.gateway.conftest import call_token

from .server import LiveServer, free_port

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
APP = "cache-probe"
EXTENSIONS = "tests.fixtures.extensions.cache_probe"
SUMMARY = ResourceSummary(total=3, active=2, last_id="doc_1")
DASHBOARD = DashboardView(spend_today=0.1 + 0.2, clicks=10**15, active_campaigns=-1)


class ActingStoreClient(StoreClient):
    """imperal-sdk's StoreClient, naming its user in X-Acting-User on every request."""

    def _headers(self):
        return {**super()._headers(), "X-Acting-User": self._user_id}


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker, tmp_path_factory):
    """The production server on the test database, for this module; afterwards its
    log must hold none of the tokens the tests issued."""
    live = LiveServer(tmp_path_factory.mktemp("server"), extensions=EXTENSIONS)
    live.tokens = []
    live.start()
    yield live
    live.stop()
    log = live.log()
    assert str(live.port) in log  # the log is the server's own output
    for raw in live.tokens:
        assert raw not in log


@pytest.fixture
def extension(use_extensions):
    return use_extensions(EXTENSIONS).get(APP).ext


@pytest.fixture
def token(server, extension):
    """Return a function issuing a service token the server will accept."""

    def issue(user_id=""):
        raw = issue_token(APP, user_id=user_id).raw
        server.tokens.append(raw)
        return raw

    return issue


def in_process(extension, user_id):
    if user_id == "__system__":
        return build_context(extension, system_user_context())
    user = PlatformUserContext(
        imperal_id=user_id, email="", tenant_id="default", role="user"
    )
    return build_context(extension, user)


def run(coroutine_function, *args):
    return async_to_sync(coroutine_function)(*args)


# --- ctx.store ---------------------------------------------------------------------


async def store_scenario(store):
    """Run every per-user ctx.store operation; return what each answered."""
    seen = {}
    a = await store.create("notes", {"doc_id": "a", "n": 1, "tags": ["x", "y"]})
    await store.create("notes", {"doc_id": "b", "n": 2, "deep": {"k": [1, 2.5, None]}})
    await store.create("notes", {"doc_id": "c", "n": 3, "text": 'héllo "✓" 𝄞'})
    seen["create"] = (a.id, a.data)
    got = await store.get("notes", "a")
    seen["get"] = (got.id, got.data, bool(got.etag))
    seen["get-by-path"] = (await store.get("notes/b")).data
    seen["get-missing"] = await store.get("notes", "nope")
    page = await store.query("notes", where={"n": {"$gte": 2}}, order_by="-n", limit=10)
    seen["query"] = ([d.id for d in page.data], page.has_more)
    first = await store.query("notes", order_by="id", limit=2)
    seen["query-limit"] = (
        [d.id for d in first.data],
        first.has_more,
        bool(first.cursor),
    )
    seen["count"] = (await store.count("notes"), await store.count("notes", {"n": 1}))
    seen["update"] = (await store.update("notes", "a", {"n": 10, "new": True})).data
    current = await store.get("notes", "a")
    try:
        await store.update("notes", "a", {"n": 11}, if_match="stale-etag")
    except StoreConflict as exc:
        seen["conflict"] = exc.current_etag == current.etag
    cas = await store.update("notes", "a", {"n": 12}, if_match=current.etag)
    seen["compare-and-set"] = (cas.data["n"], cas.etag != current.etag)
    # imperal-sdk's set() creates without an id unless the data carries doc_id.
    await store.set("notes/d", {"doc_id": "d", "v": 1})
    seen["set"] = (await store.set("notes/d", {"w": 2})).data
    seen["list"] = sorted(d.id for d in await store.list("notes"))
    seen["delete"] = (
        await store.delete("notes", "b"),
        await store.delete("notes", "b"),
    )
    seen["count-after"] = await store.count("notes")
    seen["stored"] = {d.id: d.data for d in (await store.query("notes")).data}
    return seen


async def system_scenario(store):
    users = [str(uid) async for uid in store.list_users("notes", page_size=2)]
    documents = await store.query_all("notes", limit=100)
    return users, sorted((d.user_id, d.id, d.data.get("n")) for d in documents)


def test_store_client_answers_as_ctx_store(server, token, extension):
    wide = ActingStoreClient(
        server.url, service_token=token(), extension_id=APP, user_id="alice"
    )
    bound = StoreClient(
        server.url, service_token=token("charlie"), extension_id=APP, user_id="charlie"
    )
    over_http = run(store_scenario, wide)
    assert run(store_scenario, bound) == over_http
    assert run(store_scenario, in_process(extension, "bob").store) == over_http
    assert over_http["get-missing"] is None and over_http["conflict"] is True

    expected = run(system_scenario, in_process(extension, "__system__").store)
    assert expected[0] == ["alice", "bob", "charlie"]
    wide_as_system = ActingStoreClient(
        server.url, service_token=token(), extension_id=APP, user_id="__system__"
    )
    with pytest.raises(httpx.HTTPStatusError) as refused:
        run(system_scenario, wide_as_system)
    assert refused.value.response.status_code == 403
    system_bound = StoreClient(
        server.url,
        service_token=token("__system__"),
        extension_id=APP,
        user_id="__system__",
    )
    assert run(system_scenario, system_bound) == expected


def test_a_document_is_the_same_on_both_sides(server, token, extension):
    client = ActingStoreClient(
        server.url, service_token=token(), extension_id=APP, user_id="alice"
    )
    ctx_store = in_process(extension, "alice").store
    written = run(client.create, "notes", {"doc_id": "w", "from": "http"})
    read_here = run(ctx_store.get, "notes", "w")
    assert (read_here.id, read_here.data) == (
        written.id,
        {"doc_id": "w", "from": "http"},
    )
    local = run(ctx_store.create, "notes", {"doc_id": "l", "from": "ctx"})
    read_there = run(client.get, "notes", "l")
    assert (read_there.data, read_there.etag) == (local.data, local.etag)
    run(client.update, "notes", "l", {"seen": True})
    assert run(ctx_store.get, "notes", "l").data == {
        "doc_id": "l",
        "from": "ctx",
        "seen": True,
    }
    assert run(client.for_user("bob").get, "notes", "l") is None  # bob's partition


def test_a_user_bound_store_client_cannot_act_for_another_user(server, token):
    alice = StoreClient(
        server.url, service_token=token("alice"), extension_id=APP, user_id="alice"
    )
    run(alice.create, "notes", {"doc_id": "mine"})
    as_bob = ActingStoreClient(
        server.url, service_token=token("alice"), extension_id=APP, user_id="bob"
    )
    for call, args in ((as_bob.create, ("notes", {"doc_id": "theirs"})),
                       (as_bob.get, ("notes", "mine"))):  # fmt: skip
        with pytest.raises(httpx.HTTPStatusError, match="403 Forbidden"):
            run(call, *args)
    assert run(alice.count, "notes") == 1


# --- ctx.cache ---------------------------------------------------------------------


@pytest.fixture
def clean_cache():
    yield
    core = get_core()
    for user in ("alice", "bob", "charlie"):
        prefix = entries.partition_prefix(
            core.key_prefix, Partition("default", APP, user)
        )
        keys = [entry.key for entry in core.backend.list(prefix, 10_000)]
        if keys:
            core.backend.delete(keys)


async def cache_scenario(cache):
    """Run every ctx.cache operation; return what each answered."""
    seen = {"miss": await cache.get("summary", ResourceSummary)}
    await cache.set("summary", SUMMARY, ttl_seconds=60)
    await cache.set("dash", DASHBOARD, ttl_seconds=5)
    seen["hit"] = await cache.get("summary", ResourceSummary)
    seen["other-model"] = await cache.get("summary", DashboardView)
    seen["dash"] = await cache.get("dash", DashboardView)
    fetched = []

    async def fetch():
        fetched.append(1)
        return DashboardView(spend_today=1.5, clicks=2, active_campaigns=3)

    seen["fetch-miss"] = await cache.get_or_fetch("view", DashboardView, fetch, 30)
    seen["fetch-hit"] = await cache.get_or_fetch("view", DashboardView, fetch, 30)
    seen["fetches"] = len(fetched)
    await cache.delete("summary")
    seen["after-delete"] = await cache.get("summary", ResourceSummary)
    with_error = None
    try:
        await cache.set("bad key", SUMMARY)
    except ValueError as exc:
        with_error = "I-CACHE-KEY-SAFETY" in str(exc)
    seen["bad-key"] = with_error
    return seen


def sdk_cache(server, extension, user_id, **credential):
    return CacheClient(
        app_id=APP,
        user_id=user_id,
        gw_url=server.url,
        extension=extension,
        **credential,
    )


def test_cache_client_answers_as_ctx_cache(server, token, extension, clean_cache):
    expected = run(cache_scenario, in_process(extension, "bob").cache)
    assert expected["hit"] == SUMMARY and expected["fetches"] == 1
    with_token = sdk_cache(server, extension, "alice", service_token=token("alice"))
    assert run(cache_scenario, with_token) == expected
    raw = call_token(user_id="charlie")
    server.tokens.append(raw)
    with_call_token = sdk_cache(server, extension, "charlie", call_token=raw)
    assert run(cache_scenario, with_call_token) == expected


def test_a_cache_entry_is_the_same_on_both_sides(server, token, extension, clean_cache):
    client = sdk_cache(server, extension, "alice", service_token=token())
    ctx_cache = in_process(extension, "alice").cache
    run(client.set, "from-http", SUMMARY, 60)
    assert run(ctx_cache.get, "from-http", ResourceSummary) == SUMMARY
    run(ctx_cache.set, "from-ctx", DASHBOARD, 60)
    assert run(client.get, "from-ctx", DashboardView) == DASHBOARD
    run(client.delete, "from-ctx")
    assert run(ctx_cache.get, "from-ctx", DashboardView) is None
    bob = sdk_cache(server, extension, "bob", service_token=token())
    assert run(bob.get, "from-http", ResourceSummary) is None


# --- ctx.notify --------------------------------------------------------------------


def notifications(user_id):
    return [
        (n.app_id, n.message, n.priority, n.channel, n.status, n.subject, n.extra)
        for n in Notification.objects.filter(user_id=user_id).order_by("id")
    ]


async def notify_scenario(notify):
    await notify("Report ready", priority="high")
    await notify.send("Weekly digest", channel="in_app", subject="digest")
    await notify("Elsewhere", channel="telegram", chat="x")


def test_notify_client_stores_what_ctx_notify_stores(server, token, extension, alice):
    run(notify_scenario, in_process(extension, "bob").notify)
    client = NotifyClient(
        server.url, auth_token=token(), user_id="alice", extension_id=APP
    )
    run(notify_scenario, client)
    assert len(notifications("bob")) == 3
    assert notifications("alice") == notifications("bob")


def test_the_server_answers_an_outage_with_503(tmp_path, token):
    """A database that cannot be reached: 503 with Retry-After, no trace in the body."""
    broken = LiveServer(
        tmp_path,
        extensions=EXTENSIONS,
        env={"DATABASE_URL": unreachable_database_url()},
    )
    broken.start(ready=lambda status: status == 503)
    try:
        response = httpx.get(
            f"{broken.url}/v1/internal/store/notes/a",
            headers={"X-Service-Token": token("alice")},
        )
    finally:
        broken.stop()
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    body = response.json()
    assert body["error"]["code"] == "unavailable"
    assert "Traceback" not in response.text


def unreachable_database_url():
    if settings.IS_POSTGRES:
        return f"postgres://postgres@127.0.0.1:{free_port()}/nowhere"
    return "sqlite:////nonexistent-imperal-dir/platform.sqlite3"
