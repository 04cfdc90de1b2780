"""Bad input across every face, against one checksum of the platform's state.

ctx.store, ctx.cache, ctx.db and the CLI are called in process; the gateway
and the user API over HTTP on the production server. Every case asserts the
documented error (or, for injection strings that are valid data, that they
stay data) and that a checksum of every platform table and every cache entry
is unchanged. The store's and the cache's own tables
(tests/store/test_bad_input.py, tests/cache/test_invariants.py,
tests/gateway/test_bad_input.py) are reused here, not copied.
"""

import hashlib
import json

import pytest
from asgiref.sync import async_to_sync
from django.apps import apps
from django.core.management import CommandError, call_command

from apps.accounts.identity import PlatformUserContext
from apps.accounts.partition import Partition
from apps.cache.core import get_core
from apps.db.errors import DbParameterError, DbPermissionError, DbProgrammingError
from apps.extensions.context import build_context
from tests.cache.test_invariants import BAD_INPUT as CACHE_CASES
from tests.fixtures.extensions import cache_probe
from tests.gateway.test_bad_input import WIRE_CASES
from tests.store.test_bad_input import ARGUMENT_CASES as STORE_CASES

from .live import api_token, http, in_process, platform_server, service_token

__all__ = ["platform_server"]  # fixture
APP = "reliable"
EXTENSIONS = ("tests.reliability.extension", "tests.fixtures.extensions.cache_probe")
# Columns a successful authentication stamps: not state a refusal may change.
READ_STAMPS = {"last_used_at", "synced_at"}
INJECTION = "'; DROP TABLE store_document; --"
# The cache partitions the checksum covers: those the cases could touch.
PARTITIONS = [
    Partition("default", app_id, user_id)
    for app_id in ("reliable", "reliable-b", "cache-probe")
    for user_id in ("alice", "bob")
]


@pytest.fixture
def registry(use_extensions):
    return use_extensions(*EXTENSIONS, "tests.reliability.extension_b")


def checksum():
    """Return a digest of every row of every model and every cache entry."""
    digest = hashlib.sha256()
    for model in sorted(apps.get_models(), key=lambda m: m._meta.label):
        names = [
            f.attname for f in model._meta.concrete_fields if f.name not in READ_STAMPS
        ]
        rows = model._base_manager.order_by("pk").values_list(*names)
        digest.update(f"{model._meta.label}:{list(rows)!r}".encode())
    for partition in PARTITIONS:
        for entry in get_core().list_entries(partition):
            digest.update(f"{partition}:{entry.model}:{entry.key_hash}:"
                          f"{entry.size}".encode())  # fmt: skip
    return digest.hexdigest()


def seed(registry):
    """Give alice two documents and a cache entry, in cache partitions wiped first.

    Cache entries outlive a test's rolled-back transaction: one an earlier
    test left with a TTL would expire in the middle of a case.
    """
    for partition in PARTITIONS:
        get_core().erase_partition(partition)
    ctx = in_process(registry, APP, "alice")
    async_to_sync(ctx.store.create)("notes", {"doc_id": "existing", "v": 1})
    async_to_sync(ctx.store.create)("notes", {"doc_id": "second", "v": 2})
    cache_ctx = build_context(
        registry.get("cache-probe").ext,
        PlatformUserContext(
            imperal_id="alice", email="", tenant_id="default", role="user"
        ),
    )
    async_to_sync(cache_ctx.cache.set)(
        "k", cache_probe.ResourceSummary(total=1, active=1, last_id="x")
    )
    return ctx, cache_ctx


def params(prefix, rows):
    """Return table rows (id first) as pytest params with ids ``prefix-id``."""
    return [pytest.param(*row[1:], id=f"{prefix}-{row[0]}") for row in rows]


def refused(call, exc, match):
    """Run ``call``; assert it raises ``exc`` matching ``match`` and changes
    nothing; return the exception."""
    before = checksum()
    with pytest.raises(exc, match=match) as caught:
        call()
    assert checksum() == before
    return caught.value


# --- in process: ctx.store, ctx.cache, ctx.db, the CLI -----------------------

STORE_PARAMS = [
    pytest.param(*case, id=f"store-{n}-{case[0]}")
    for n, case in enumerate(STORE_CASES)
    if not isinstance(case[2].get("cursor"), str)  # placeholders need real cursors
]


@pytest.mark.django_db
@pytest.mark.parametrize("op, args, kwargs, exc, message", STORE_PARAMS)
def test_ctx_store_refuses_bad_input_and_changes_nothing(
    registry, op, args, kwargs, exc, message
):
    ctx, _ = seed(registry)
    refused(
        lambda: async_to_sync(getattr(ctx.store, op))(*args, **kwargs), exc, message
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    "call, exc, rule, fragments",
    params("cache", CACHE_CASES),
)
def test_ctx_cache_refuses_bad_input_and_changes_nothing(
    registry, call, exc, rule, fragments
):
    _, cache_ctx = seed(registry)
    caught = refused(lambda: async_to_sync(call)(cache_ctx.cache), exc, rule)
    for fragment in fragments:
        assert fragment in str(caught)


DB_CASES = [
    ("missing-param", "SELECT :uid AS uid", {}, DbParameterError, "uid"),
    (
        "params-not-mapping",
        "SELECT :uid AS uid",
        ["alice"],
        DbParameterError,
        "mapping",
    ),
    (
        "platform-table",
        "SELECT * FROM store_document",
        {},
        (DbPermissionError, DbProgrammingError),
        "store_document",
    ),
    (
        "platform-table-injection",
        f"SELECT 1 AS one{INJECTION[1:]}",
        {},
        (DbPermissionError, DbProgrammingError),
        # PostgreSQL: the extension's role sees no platform table; SQLite: one
        # statement per call.
        'table "store_document" does not exist|only execute one statement',
    ),
]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "sql, params, exc, fragment",
    params("db", DB_CASES),
)
def test_ctx_db_refuses_bad_input_and_changes_nothing(
    registry, sql, params, exc, fragment
):
    ctx, _ = seed(registry)

    async def run():
        async with ctx.db.session() as session:
            await session.execute(sql, params)

    refused(async_to_sync(run), exc, fragment)


@pytest.mark.django_db(transaction=True)
def test_ctx_db_binds_an_injection_string_as_a_value(registry):
    ctx, _ = seed(registry)
    before = checksum()

    async def run():
        async with ctx.db.session() as session:
            return (await session.execute("SELECT :v AS v", {"v": INJECTION})).all()

    assert [dict(row) for row in async_to_sync(run)()] == [{"v": INJECTION}]
    assert checksum() == before


CLI_CASES = [
    ("unknown-app", ["ext", "call", "nope", "remember", "--user", "alice"], 2,
     "unknown extension 'nope'"),
    ("unknown-tool", ["ext", "call", APP, "nope", "--user", "alice"], 2, "nope"),
    ("params-not-json", ["ext", "call", APP, "remember", "--user", "alice",
                         "--params", "{key:"], 2, "--params is not valid JSON"),
    ("param-wrong-type", ["ext", "call", APP, "remember", "--user", "alice",
                          "--params", '{"key": "k", "value": "many"}'], 2,
     "param 'value'"),
    ("param-missing", ["ext", "call", APP, "remember", "--user", "alice",
                       "--params", '{"key": "k"}'], 2, "param 'value'"),
    ("param-unknown", ["ext", "call", APP, "recall", "--user", "alice",
                       "--params", '{"key": "k", "sql": "1; DROP"}'], 2,
     "param 'sql'"),
    ("token-bad-user", ["ext", "token", APP, "--user", INJECTION], 2, "user"),
    ("token-unknown-app", ["ext", "token", "no such app"], 2, "no such app"),
]  # fmt: skip


@pytest.mark.django_db
@pytest.mark.parametrize(
    "argv, returncode, fragment",
    params("cli", CLI_CASES),
)
def test_the_cli_refuses_bad_input_and_changes_nothing(
    registry, alice, argv, returncode, fragment, capsys
):
    seed(registry)
    caught = refused(lambda: call_command(*argv), CommandError, None)
    assert caught.returncode == returncode
    assert fragment in str(caught)


# --- over HTTP: the gateway and the user API on the production server --------


def nested(depth):
    value = {}
    for _ in range(depth):
        value = {"x": value}
    return value


def _gateway_create(data, collection="notes"):
    return {"collection": collection, "data": data, "user_id": "alice"}


def _q(where=None, order_by=None, limit=10):
    return {"where": where or {}, "order_by": order_by, "limit": limit}


STORE = "/v1/internal/store"
TOOL = f"/api/v1/extensions/{APP}/tools/remember/call"
# (id, face, method, path, body (JSON value, or bytes sent as is), headers,
#  status, code, message fragment)
HTTP_CASES = [
    ("gw-collection-injection", "gw", "POST", STORE,
     _gateway_create({}, collection=INJECTION), {}, 400, "invalid_argument",
     "collection must be"),
    ("gw-collection-slash", "gw", "POST", STORE,
     _gateway_create({}, collection="a/b"), {}, 400, "invalid_argument",
     "collection must be"),
    ("gw-doc-id-injection", "gw", "POST", STORE,
     _gateway_create({"doc_id": INJECTION}), {}, 400, "invalid_argument",
     "doc_id must be"),
    ("gw-get-doc-id-injection", "gw", "GET",
     f"{STORE}/notes/x'%20OR%201=1--", None, {}, 400, "invalid_argument",
     "doc_id must be"),
    # A where key or order_by path is a JSON path bound as a value: an
    # injection string there is a key no document has, never SQL.
    ("gw-where-key-injection-is-data", "gw", "POST", f"{STORE}/notes/query",
     _q(where={"v') OR 1=1 --": 1}), {}, 200, None, None),
    ("gw-order-by-injection-is-data", "gw", "POST", f"{STORE}/notes/query",
     _q(order_by="created_at; DROP TABLE store_document"), {}, 200, None, None),
    ("gw-where-key-double-quote", "gw", "POST", f"{STORE}/notes/query",
     _q(where={'v" OR 1=1 --': 1}), {}, 400, "invalid_argument", "fields are"),
    ("gw-order-by-backslash", "gw", "POST", f"{STORE}/notes/query",
     _q(order_by="v\\x"), {}, 400, "invalid_argument", "fields are"),
    ("gw-where-value-injection-is-data", "gw", "POST", f"{STORE}/notes/query",
     _q(where={"v": INJECTION}), {}, 200, None, None),
    ("gw-where-5000-keys", "gw", "POST", f"{STORE}/notes/query",
     _q(where={f"k{i}": 1 for i in range(5000)}), {}, 400, "invalid_argument",
     "IMPERAL_STORE_WHERE_MAX_KEYS"),
    ("gw-count-5000-keys", "gw", "POST", f"{STORE}/notes/count",
     {"where": {f"k{i}": 1 for i in range(5000)}}, {}, 400, "invalid_argument",
     "IMPERAL_STORE_WHERE_MAX_KEYS"),
    ("gw-nested-150", "gw", "POST", STORE, _gateway_create(nested(150)), {},
     400, "invalid_argument", "nest"),
    ("gw-nan", "gw", "POST", STORE,
     b'{"collection": "notes", "data": {"x": NaN}, "user_id": "alice"}', {},
     400, "invalid_argument", "NaN"),
    ("gw-data-list", "gw", "POST", STORE, _gateway_create([1]), {}, 400,
     "invalid_argument", "data must be a JSON object"),
    ("gw-limit-string", "gw", "POST", f"{STORE}/notes/query", _q(limit="ten"),
     {}, 400, "invalid_argument", "limit"),
    ("gw-limit-1001", "gw", "POST", f"{STORE}/notes/query", _q(limit=1001), {},
     400, "invalid_argument", "limit"),
    ("gw-malformed-json", "gw", "POST", STORE, b'{"collection": "notes",', {},
     400, "invalid_argument", "JSON parse error"),
    ("gw-text-plain", "gw", "POST", STORE, b"collection=notes",
     {"Content-Type": "text/plain"}, 415, "unsupported_media_type", ""),
    ("gw-body-5-mib", "gw", "POST", STORE,
     _gateway_create({"x": "y" * (5 * 2**20)}), {}, 413, "payload_too_large",
     ""),
    ("gw-patch-if-match-injection", "gw", "PATCH", f"{STORE}/notes/existing",
     {"data": {"v": 9}, "if_match": INJECTION}, {}, 409, "conflict", ""),
    ("gw-header-100-kb", "gw", "GET", f"{STORE}/notes/existing", None,
     {"X-Acting-User": "a" * 100_000}, 400, "invalid_argument",
     "a user id is a string of 1-128 characters"),
    # NUL (%00) is refused before any view: PostgreSQL text cannot hold it.
    ("gw-list-users-cursor-nul", "gw", "GET",
     f"{STORE}/notes/list_users?cursor=u:a%00b", None, {}, 400,
     "invalid_argument", "query parameter 'cursor'"),
    ("gw-doc-id-nul", "gw", "GET", f"{STORE}/notes/x%00y", None, {}, 400,
     "invalid_argument", "holds a NUL character"),
    ("gw-patch-if-match-nul", "gw", "PATCH", f"{STORE}/notes/existing",
     {"data": {"v": 9}, "if_match": "e\u0000"}, {}, 400, "invalid_argument",
     "if_match: strings cannot contain NUL"),
    ("webhook-path-nul", "api", "POST", f"/v1/ext/{APP}/webhook/a%00b", {}, {},
     400, "invalid_argument", "the URL path"),
    ("webhook-app-nul", "api", "POST", "/v1/ext/rel%00iable/webhook/x", {}, {}, 400,
     "invalid_argument", "the URL path"),
    ("api-schedule-runs-nul", "api", "GET",
     f"/api/v1/operator/schedules/{APP}/x%00y/runs", None, {}, 400,
     "invalid_argument", "holds a NUL character"),
    ("api-erase-query-nul", "api", "DELETE", "/api/v1/me/data?extension=reliable%00",
     None, {}, 400, "invalid_argument", "query parameter 'extension'"),
    ("api-param-missing", "api", "POST", TOOL, {"params": {"key": "k"}}, {},
     400, "invalid_params", "value"),
    ("api-param-wrong-type", "api", "POST", TOOL,
     {"params": {"key": "k", "value": "many"}}, {}, 400, "invalid_params",
     "value"),
    ("api-param-unknown", "api", "POST", TOOL,
     {"params": {"key": "k", "value": 1, "sql": INJECTION}}, {}, 400,
     "invalid_params", "sql"),
    ("api-params-list", "api", "POST", TOOL, {"params": [1, 2]}, {}, 400,
     "invalid_argument", ""),
    ("api-malformed-json", "api", "POST", TOOL, b'{"params": ', {}, 400,
     "invalid_argument", "JSON parse error"),
    ("api-text-plain", "api", "POST", TOOL, b"params",
     {"Content-Type": "text/plain"}, 415, "unsupported_media_type", ""),
    ("api-body-5-mib", "api", "POST", TOOL,
     {"params": {"key": "y" * (5 * 2**20), "value": 1}}, {}, 413,
     "payload_too_large", ""),
    ("api-unknown-tool", "api", "POST",
     f"/api/v1/extensions/{APP}/tools/nope/call", {"params": {}}, {}, 404,
     "not_found", "nope"),
    ("api-unknown-extension-injection", "api", "POST",
     "/api/v1/extensions/x'%20OR%201=1/tools/remember/call", {"params": {}}, {},
     404, "not_found", ""),
    ("api-unknown-route", "api", "GET", "/api/v1/nope", None, {}, 404,
     "not_found", "no route"),
    ("api-unknown-route-post", "api", "POST", f"/api/v1/extensions/{APP}/tools",
     {"params": {}}, {}, 404, "not_found", "no route"),
    ("gw-unknown-route", "gw", "GET", "/v1/internal/nope", None, {}, 404,
     "not_found", "route"),
    ("api-bearer-scheme", "api", "GET", "/api/v1/extensions", None,
     {"Authorization": "Bearer abc"}, 401, "unauthenticated", "Token <token>"),
    ("api-erase-without-extension", "api", "DELETE", "/api/v1/me/data", None, {},
     400, "invalid_argument", "extension"),
    ("api-erase-unknown-extension", "api", "DELETE",
     f"/api/v1/me/data?extension={INJECTION}", None, {}, 404, "not_found", ""),
]  # fmt: skip


def _send(client, method, path, body, headers):
    if isinstance(body, bytes):
        headers = {"Content-Type": "application/json", **headers}
        return client.request(method, path, content=body, headers=headers)
    return client.request(method, path, json=body, headers=headers)


def _wire_cases():
    """The gateway's cache-route cases (tests/gateway), as this table's rows."""
    rows = []
    for case_id, model, digest, body, fragment in WIRE_CASES:
        path = f"/v1/internal/extcache/cache-probe/alice/{model}/{digest}"
        rows.append((f"gw-cache-{case_id}", "gw-cache", "PUT", path, body,
                     {"Content-Type": "application/json"}, 400, "invalid_argument",
                     fragment))  # fmt: skip
    return rows


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_gateway_and_the_user_api_refuse_bad_input_and_change_nothing(
    platform_server, registry, alice
):
    seed(registry)
    clients = {
        "gw": http(platform_server, service=service_token(platform_server, APP)),
        "gw-cache": http(
            platform_server, service=service_token(platform_server, "cache-probe")
        ),
        "api": http(platform_server, token=api_token(platform_server, alice)),
    }
    clients["gw"].headers["X-Acting-User"] = "alice"
    cases = HTTP_CASES + _wire_cases()
    assert len(cases) >= 40
    failures = []
    for case_id, face, method, path, body, headers, status, code, fragment in cases:
        before = checksum()
        response = _send(clients[face], method, path, body, headers)
        problem = _problem(response, status, code, fragment)
        if checksum() != before:
            problem = (problem or "") + " and the platform's state changed"
        if problem:
            failures.append(f"{case_id}: {problem}")
    assert failures == [], "\n".join(failures)


def _problem(response, status, code, fragment):
    """Return what is wrong with an answer, or None when it is the documented one."""
    if response.status_code != status:
        return f"status {response.status_code} != {status}: {response.text[:300]}"
    if code is None:
        return None
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        return f"not the one error shape: {response.text[:300]}"
    if error.get("code") != code:
        return f"code {error.get('code')!r} != {code!r}"
    if fragment and fragment not in error.get("message", "") + json.dumps(
        error.get("detail")
    ):
        return f"{fragment!r} not in {error.get('message')!r}"
    if "Traceback" in response.text:
        return "a traceback in the body"
    return None
