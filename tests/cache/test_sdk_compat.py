"""imperal-sdk 6.3.7's own CacheClient against our core: the same bytes, the same rules.

The SDK client is real; only its HTTP client is replaced (through its
``http_client=`` constructor parameter) by one that serves the extcache route
from CacheCore's gateway-level functions, as the gateway view will.
"""

import datetime
import json
import math
from urllib.parse import urlsplit

import httpx
import pytest
from asgiref.sync import async_to_sync
from imperal_sdk.cache import CacheClient, CacheProtocol

from apps.accounts.partition import Partition
from apps.cache import entries
from apps.cache.validation import VALUE_MAX_BYTES
from tests.fixtures.extensions.cache_probe import (
    DashboardView,
    InboxView,
    Note,
    ResourceSummary,
)

from .conftest import context, partition

SUMMARY = ResourceSummary(total=3, active=2, last_id="doc_1")
FIXED = datetime.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=datetime.UTC)
VALUES = [
    SUMMARY,
    Note(text='héllo ✓ 𝄞 "quoted" \\ back\nslash </script>'),
    DashboardView(spend_today=0.1 + 0.2, clicks=10**15, active_campaigns=-1),
    InboxView(messages=[{"from": "ana@example.com", "tags": [1, 2.5, None, True]}]),
]


class GatewayOverCore:
    """An HTTP client for CacheClient that answers from CacheCore; records requests."""

    def __init__(self, core, extension, tenant_id="default"):
        self.core = core
        self.extension = extension
        self.tenant_id = tenant_id
        self.requests = []

    async def request(self, method, url, headers=None, content=None, **kwargs):
        self.requests.append((method, url, content))
        *_, app, user, model, key_hash = urlsplit(url).path.split("/")
        where = (Partition(self.tenant_id, app, user), self.extension, model, key_hash)
        request = httpx.Request(method, url)
        if method == "GET":
            body = self.core.get_entry(*where)
            if body is None:
                return httpx.Response(404, request=request)
            return httpx.Response(200, content=body, request=request)
        if method == "PUT":
            self.core.put_entry(*where, content)
            return httpx.Response(204, request=request)
        self.core.delete_entry(*where)
        return httpx.Response(204, request=request)

    def put_bodies(self):
        return [content for method, _, content in self.requests if method == "PUT"]


@pytest.fixture
def gateway(core, ext):
    return GatewayOverCore(core, ext)


@pytest.fixture
def sdk(gateway, ext):
    """imperal-sdk's CacheClient for alice in cache-probe, over the fake network."""
    return CacheClient(
        app_id="cache-probe",
        user_id="alice",
        gw_url="http://gateway.invalid",
        extension=ext,
        http_client=gateway,
    )


def run(func, *args, **kwargs):
    return async_to_sync(func)(*args, **kwargs)


def test_our_face_satisfies_the_sdks_cache_protocol(core, ext):
    assert isinstance(context(ext, "alice").cache, CacheProtocol)


@pytest.mark.parametrize("value", VALUES, ids=lambda v: type(v).__name__)
def test_what_the_sdk_puts_is_read_back_by_ctx_cache_get(
    core, ext, sdk, gateway, value
):
    run(sdk.set, "shared:key", value, ttl_seconds=90)
    assert run(context(ext, "alice").cache.get, "shared:key", type(value)) == value
    (body,) = gateway.put_bodies()
    (entry,) = core.list_entries(partition("alice"))
    key = entries.entry_key(
        core.key_prefix, partition("alice"), entry.model, entry.key_hash
    )
    assert entries.request_body(core.backend.inner.get(key), 90) == body
    assert 85 <= entry.ttl_seconds <= 90


@pytest.mark.parametrize("value", VALUES, ids=lambda v: type(v).__name__)
def test_what_ctx_cache_set_stores_is_accepted_by_the_sdks_get(core, ext, sdk, value):
    run(context(ext, "alice").cache.set, "shared:key", value, ttl_seconds=90)
    assert run(sdk.get, "shared:key", type(value)) == value
    assert run(sdk.get, "other:key", type(value)) is None


@pytest.mark.parametrize("value", VALUES, ids=lambda v: type(v).__name__)
def test_our_put_body_is_byte_identical_to_the_sdks(core, ext, sdk, gateway, value):
    run(sdk.set, "k", value, ttl_seconds=77)
    (body,) = gateway.put_bodies()
    sdk_cached_at = datetime.datetime.fromisoformat(
        json.loads(body)["envelope"]["cached_at"]
    )
    model_name = ext._resolve_cache_model_name(type(value))
    ours = entries.encode(model_name, value, 77, sdk_cached_at)
    assert entries.request_body(ours, 77) == body


def _sdk_outcome(sdk, value):
    try:
        run(sdk.set, "big", value, ttl_seconds=60)
    except ValueError as exc:
        return str(exc).split(" (")[0]
    return "stored"


def _our_outcome(core, ext, value):
    core.clock = lambda: FIXED  # the SDK's cached_at has the same length
    try:
        run(context(ext, "alice").cache.set, "big", value, ttl_seconds=60)
    except ValueError as exc:
        return str(exc).split(",")[0]
    return "stored"


@pytest.mark.parametrize("char, width", [("x", 1), ("é", 6), ("𝄞", 12)])
def test_the_64kb_cap_refuses_exactly_what_the_sdk_refuses(
    core, ext, sdk, gateway, char, width
):
    empty = entries.request_body(entries.encode("note", Note(text=""), 60, FIXED), 60)
    room = VALUE_MAX_BYTES - len(empty)
    fits, over = (
        Note(text=char * (room // width)),
        Note(text=char * (room // width + 1)),
    )
    assert _sdk_outcome(sdk, fits) == _our_outcome(core, ext, fits) == "stored"
    if width == 1:
        assert len(gateway.put_bodies()[0]) == VALUE_MAX_BYTES
    over_size = len(empty) + width * (room // width + 1)
    refusal = f"cache value too large: {over_size} > 65536 bytes"
    assert _sdk_outcome(sdk, over) == _our_outcome(core, ext, over) == refusal


def test_deletes_from_either_side_meet(core, ext, sdk, gateway):
    ctx = context(ext, "alice")
    run(sdk.set, "k", SUMMARY, ttl_seconds=60)
    run(ctx.cache.delete, "k")
    assert run(sdk.get, "k", ResourceSummary) is None
    run(ctx.cache.set, "k", SUMMARY)
    gateway.requests.clear()
    run(sdk.delete, "k")
    assert run(ctx.cache.get, "k", ResourceSummary) is None
    assert [method for method, _, _ in gateway.requests] == ["DELETE"] * len(
        ext._cache_models
    )


@pytest.mark.parametrize("key", ["", "my key", "a/b/c", "k" * 129, "ключ", "a*"])
def test_keys_the_sdk_refuses_we_refuse(core, ext, sdk, key):
    with pytest.raises(ValueError):
        run(sdk.set, key, SUMMARY)
    with pytest.raises(ValueError):
        run(context(ext, "alice").cache.set, key, SUMMARY)


def test_a_trailing_newline_key_is_refused_though_the_sdks_regex_lets_it_through(
    core, ext, sdk
):
    # The SDK's re.match(r"^[...]+$") accepts "summary\n" ($ matches before a
    # final newline); the seed's rule is the character set, so we refuse it.
    run(sdk.set, "summary\n", SUMMARY)
    with pytest.raises(ValueError, match="forbidden characters"):
        run(context(ext, "alice").cache.set, "summary\n", SUMMARY)


def _body(**changes):
    envelope = {
        "model": "resource_summary",
        "version": 1,
        "data": SUMMARY.model_dump(),
        "cached_at": FIXED.isoformat(),
    }
    request = {"envelope": envelope, "ttl_seconds": 60}
    for name, value in changes.items():
        if name == "ttl_seconds":
            request[name] = value
        elif value is None:
            envelope.pop(name)
        else:
            envelope[name] = value
    return json.dumps(request).encode()


GOOD_HASH = entries.hash_key("k")


@pytest.mark.parametrize(
    "model, key_hash, body, fragment",
    [
        ("resource_summary", GOOD_HASH, b"not json", "not JSON"),
        ("resource_summary", GOOD_HASH, b'{"ttl_seconds": 60}', '{"envelope"'),
        ("resource_summary", GOOD_HASH, _body(ttl_seconds=301), "I-CACHE-TTL-CAP-300S"),
        ("resource_summary", GOOD_HASH, _body(ttl_seconds="60"), "must be an int"),
        ("resource_summary", GOOD_HASH, _body(model="note"), "does not match"),
        ("resource_summary", GOOD_HASH, _body(version=2), "version must be 1"),
        ("resource_summary", GOOD_HASH, _body(version=True), "version must be 1"),
        ("resource_summary", GOOD_HASH, _body(cached_at=None), "cached_at"),
        (
            "resource_summary",
            GOOD_HASH,
            _body(data={"total": "x"}),
            "does not validate",
        ),
        ("unknown_model", GOOD_HASH, _body(model="unknown_model"), "not registered"),
        ("resource_summary", "K" * 16, _body(), "16 lowercase hex"),
        ("resource_summary", GOOD_HASH + "0", _body(), "16 lowercase hex"),
        ("resource_summary", GOOD_HASH, b" " * 65_537, "I-CACHE-VALUE-SIZE-CAP-64KB"),
    ],
)
def test_the_gateway_put_refuses_what_breaks_a_rule_and_writes_nothing(
    core, ext, calls, model, key_hash, body, fragment
):
    with pytest.raises(ValueError) as caught:
        core.put_entry(partition("alice"), ext, model, key_hash, body)
    assert fragment in str(caught.value)
    assert calls == []


@pytest.mark.parametrize("model, key_hash", [("nope", GOOD_HASH), ("note", "zz")])
def test_the_gateway_get_and_delete_refuse_unknown_models_and_bad_hashes(
    core, ext, calls, model, key_hash
):
    for operation in (core.get_entry, core.delete_entry):
        with pytest.raises(ValueError):
            operation(partition("alice"), ext, model, key_hash)
    assert calls == []


def test_non_finite_floats_survive_both_ways_as_the_sdk_writes_them(core, ext, sdk):
    nan = DashboardView(spend_today=float("nan"), clicks=0, active_campaigns=0)
    ctx = context(ext, "alice")
    run(sdk.set, "from-sdk", nan)
    run(ctx.cache.set, "from-us", nan)
    assert math.isnan(run(ctx.cache.get, "from-sdk", DashboardView).spend_today)
    assert math.isnan(run(sdk.get, "from-us", DashboardView).spend_today)
