"""The store's and the cache's bad-input tables, sent over the wire.

The cases are the in-process tables themselves (tests/store/test_bad_input.py,
tests/cache/test_invariants.py), imported, each translated into the request
imperal-sdk's client (or any HTTP client) would send. A case whose input has
no wire form is left out, with the reason: a cache key travels only as its
hash, a Python tuple or set is not JSON, a path segment cannot hold '/'. Each
case sent must answer with the core's status and its message naming the rule,
and leave the documents, the audit trail and the cache as they were.
"""

import json
import math
import re
from dataclasses import dataclass, field
from urllib.parse import quote

import pytest
from pydantic import BaseModel

from apps.cache.validation import VALUE_MAX_BYTES, validate_key
from apps.store.connections import DjangoConnection
from apps.store.core import DocumentStore
from apps.store.errors import DocumentExists, DocumentNotFound, StoreConflict
from tests.cache import test_invariants as cache_table
from tests.fixtures.extensions import cache_probe
from tests.store import test_bad_input as store_table
from tests.store.conftest import stored_state

from .conftest import APP, cache_state, error_of, key_hash, partition

STORE = "/v1/internal/store"


@dataclass
class Wire:
    """One request of a translated case: method, path, JSON body or bytes, headers."""

    method: str
    path: str
    body: object = None
    headers: dict = field(default_factory=dict)


class NoWireForm(Exception):
    """The case's input cannot be written as a request."""


# --- the store's table -------------------------------------------------------------


def segment(value):
    """Return ``value`` as one URL path segment; NoWireForm when it cannot be one."""
    if not isinstance(value, str) or not value or "/" in value:
        raise NoWireForm(f"path segment {value!r:.40} (empty, '/' or not a string)")
    try:
        return quote(value, safe="")
    except UnicodeEncodeError:
        raise NoWireForm(
            f"path segment {value!r:.40} is not UTF-8 (a lone surrogate)"
        ) from None


def json_faithful(value, depth=0):
    """Raise NoWireForm unless ``value`` reads back from JSON as the same types."""
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise NoWireForm("JSON object keys are always strings")
        for item in value.values():
            json_faithful(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            json_faithful(item, depth + 1)
    elif value is not None and not isinstance(value, str | int | float | bool):
        raise NoWireForm(f"{type(value).__name__} is not a JSON value")
    return value


def store_wire(op, args, kwargs):
    """Return the list of Wire requests a store case is, or raise NoWireForm."""
    if op == "create":
        collection, data = args
        body = {"collection": json_faithful(collection), "data": json_faithful(data)}
        return [Wire("POST", STORE, body)]
    if op == "get":
        collection, doc_id = args if len(args) == 2 else args[0].split("/", 1)
        return [Wire("GET", f"{STORE}/{segment(collection)}/{segment(doc_id)}")]
    if op == "update":
        collection, doc_id, data = args
        body = json_faithful({"data": data, **kwargs})
        return [Wire("PATCH", f"{STORE}/{segment(collection)}/{segment(doc_id)}", body)]
    if op == "delete":
        collection, doc_id = args
        headers = {"if_match": f'"{kwargs["if_match"]}"'} if kwargs else {}
        path = f"{STORE}/{segment(collection)}/{segment(doc_id)}"
        return [Wire("DELETE", path, headers=headers)]
    if op in ("query", "count", "list"):
        action = "count" if op == "count" else "query"
        body = json_faithful(dict(kwargs))
        return [Wire("POST", f"{STORE}/{segment(args[0])}/{action}", body)]
    raise NoWireForm(f"{op}() has no route: imperal-sdk composes it from get + write")


def store_status(exc):
    if exc is DocumentNotFound:
        return 404
    if exc in (DocumentExists, StoreConflict):
        return 409
    assert issubclass(exc, ValueError | TypeError), exc
    return 400


def _store_params():
    sent, left_out = [], []
    for n, (op, args, kwargs, exc, message) in enumerate(store_table.CASES):
        case_id = f"{n:02d}-{op}"
        try:
            store_wire(op, args, kwargs)
        except NoWireForm as reason:
            left_out.append((case_id, str(reason)))
            continue
        sent.append(pytest.param(op, args, kwargs, exc, message, id=case_id))
    return sent, left_out


STORE_SENT, STORE_LEFT_OUT = _store_params()


def test_most_of_the_store_table_goes_over_the_wire():
    assert len(STORE_SENT) >= 50, STORE_LEFT_OUT
    reasons = {reason.split(" ")[0] for _, reason in STORE_LEFT_OUT}
    assert reasons <= {"set()", "path", "JSON", "tuple", "set", "bytes"}, STORE_LEFT_OUT


@pytest.fixture
def alice_notes(db):
    store = DocumentStore(DjangoConnection())
    store.create(partition("alice"), "user", "notes", {"doc_id": "existing", "v": 1})
    store.create(partition("alice"), "user", "notes", {"doc_id": "second", "v": 2})
    return store


def real_cursor(store, order_by=None):
    return store.query(partition("alice"), "notes", order_by=order_by, limit=1).cursor


def with_real_cursors(store, kwargs):
    """Replace the table's cursor placeholders as its own test does."""
    if kwargs.get("cursor") == "TAMPERED":
        cursor = real_cursor(store)
        return {"cursor": cursor[:-2] + ("AA" if cursor[-2:] != "AA" else "BB")}
    if kwargs.get("cursor") == "OTHER_QUERY":
        return {"cursor": real_cursor(store, order_by="-id")}
    return kwargs


@pytest.mark.parametrize("op, args, kwargs, exc, message", STORE_SENT)
def test_a_store_case_over_the_wire_is_refused_and_changes_nothing(
    gateway, alice_token, alice_notes, op, args, kwargs, exc, message
):
    (request,) = store_wire(op, args, with_real_cursors(alice_notes, kwargs))
    before = stored_state()
    response = gateway.request(
        request.method, request.path, request.body, token=alice_token, **request.headers
    )
    assert response.status_code == store_status(exc), response.content
    assert re.search(message, error_of(response)["message"]), response.content
    assert stored_state() == before


# --- the cache's table -------------------------------------------------------------

SAMPLES = {
    cache_probe.ResourceSummary: cache_table.SUMMARY,
    cache_probe.DashboardView: cache_probe.DashboardView(
        spend_today=1.0, clicks=2, active_campaigns=3
    ),
}


def model_name(model):
    """Return the path's model name for a class (its class name when unregistered)."""
    return cache_probe.ext._resolve_cache_model_name(model) or model.__name__


class WireCache:
    """Stands in for ctx.cache: each call returns the requests imperal-sdk would send."""

    def _path(self, key, model):
        if not isinstance(model, type) or not issubclass(model, BaseModel):
            raise NoWireForm("a model that is not a Pydantic class has no model name")
        try:
            validate_key(key)  # imperal-sdk checks it client-side, as ctx.cache does
        except ValueError:
            raise NoWireForm("the key travels only as sha256(key)[:16]") from None
        return f"/v1/internal/extcache/{APP}/alice/{model_name(model)}/{key_hash(key)}"

    def _put(self, key, value, ttl_seconds):
        if not isinstance(value, BaseModel):
            raise NoWireForm("a value that is not a Pydantic instance has no envelope")
        path = self._path(key, type(value))
        envelope = {
            "model": model_name(type(value)),
            "version": 1,
            "data": value.model_dump(mode="json"),
            "cached_at": "2026-01-01T00:00:00+00:00",
        }
        body = json.dumps(
            {"envelope": envelope, "ttl_seconds": json_faithful(ttl_seconds)},
            separators=(",", ":"),
        ).encode()
        return Wire("PUT", path, body)

    def set(self, key, value, ttl_seconds=60):
        return [self._put(key, value, ttl_seconds)]

    def get(self, key, model):
        return [Wire("GET", self._path(key, model))]

    def get_or_fetch(self, key, model, fetcher, ttl_seconds=60):
        if not callable(fetcher):
            raise NoWireForm("the fetcher runs in the client")
        read = Wire("GET", self._path(key, model))
        sample = SAMPLES.get(model) or model.model_construct()
        return [read, self._put(key, sample, ttl_seconds)]

    def delete(self, key):
        self._path(key, cache_probe.ResourceSummary)
        return [Wire("DELETE", self._path(key, cache_probe.ResourceSummary))]


def _cache_params():
    sent, left_out = [], []
    for case_id, call, _error, rule, fragments in cache_table.BAD_INPUT:
        try:
            call(WireCache())
        except NoWireForm as reason:
            left_out.append((case_id, str(reason)))
            continue
        sent.append(pytest.param(call, rule, fragments, id=case_id))
    return sent, left_out


CACHE_SENT, CACHE_LEFT_OUT = _cache_params()


def test_the_cache_cases_the_wire_carries_are_sent():
    # TTL, registration and size travel in the request; key, value type and
    # fetcher rules are the SDK client's own checks before any request.
    assert len(CACHE_SENT) >= 12, CACHE_LEFT_OUT


@pytest.fixture
def existing_entries(gateway, alice_token, cache_prefix):
    for request in WireCache().set("k", cache_table.SUMMARY):
        assert (
            gateway.put(request.path, request.body, token=alice_token).status_code
            == 204
        )
    stored = cache_state(cache_prefix)
    assert len(stored) == 1
    return stored


@pytest.mark.parametrize("call, rule, fragments", CACHE_SENT)
def test_a_cache_case_over_the_wire_is_refused_and_changes_nothing(
    gateway, alice_token, cache_prefix, existing_entries, call, rule, fragments
):
    for request in call(WireCache()):
        response = gateway.request(
            request.method, request.path, request.body, token=alice_token
        )
        if response.status_code not in (200, 204, 404):
            break
    else:
        pytest.fail("every request of the case was accepted")
    expected = 413 if rule == cache_table.SIZE_RULE else 400
    assert response.status_code == expected, response.content
    message = error_of(response)["message"]
    for fragment in [rule, *fragments]:
        assert fragment in message
    assert cache_state(cache_prefix) == existing_entries


# --- what only the wire can get wrong ----------------------------------------------


def envelope_body(**changes):
    envelope = {
        "model": "resource_summary",
        "version": 1,
        "data": cache_table.SUMMARY.model_dump(),
        "cached_at": "2026-01-01T00:00:00+00:00",
    }
    body = {"envelope": {**envelope, **changes.pop("envelope", {})}, "ttl_seconds": 60}
    body.update(changes)
    return json.dumps(body).encode()


WIRE_CASES = [
    ("hash-too-short", "resource_summary", "abc", envelope_body(), "16 lowercase hex"),
    ("hash-uppercase", "resource_summary", "ABCDEF0123456789", envelope_body(),
     "16 lowercase hex"),
    ("unknown-model", "no_such_model", key_hash("k"), envelope_body(),
     "I-CACHE-MODEL-REGISTRATION-REQUIRED"),
    ("not-json", "resource_summary", key_hash("k"), b"{nope", "not JSON"),
    ("not-an-object", "resource_summary", key_hash("k"), b"[1]", "must be {"),
    ("no-ttl", "resource_summary", key_hash("k"),
     json.dumps({"envelope": {}}).encode(), "must be {"),
    ("envelope-fields", "resource_summary", key_hash("k"),
     envelope_body(envelope={"cached_at": None}), "cached_at must be"),
    ("version-2", "resource_summary", key_hash("k"),
     envelope_body(envelope={"version": 2}), "version must be 1"),
    ("model-differs", "resource_summary", key_hash("k"),
     envelope_body(envelope={"model": "note"}), "does not match the path's model"),
    ("data-invalid", "resource_summary", key_hash("k"),
     envelope_body(envelope={"data": {"total": "many"}}), "does not validate"),
    ("ttl-nan", "resource_summary", key_hash("k"),
     envelope_body(ttl_seconds=math.nan), "I-CACHE-TTL-CAP-300S"),
]  # fmt: skip


@pytest.mark.parametrize(
    "model, digest, body, fragment",
    [pytest.param(*case[1:], id=case[0]) for case in WIRE_CASES],
)
def test_a_malformed_cache_request_is_400_naming_the_rule(
    gateway, alice_token, cache_prefix, existing_entries, model, digest, body, fragment
):
    path = f"/v1/internal/extcache/{APP}/alice/{model}/{digest}"
    response = gateway.put(path, body, token=alice_token)
    assert response.status_code == 400, response.content
    assert fragment in error_of(response)["message"]
    assert cache_state(cache_prefix) == existing_entries


def test_a_body_far_over_64_kb_is_413_before_it_is_read(
    gateway, alice_token, cache_prefix, existing_entries
):
    path = f"/v1/internal/extcache/{APP}/alice/note/{key_hash('k')}"
    response = gateway.put(path, b"x" * (VALUE_MAX_BYTES * 4), token=alice_token)
    assert response.status_code == 413
    assert "I-CACHE-VALUE-SIZE-CAP-64KB" in error_of(response)["message"]
    assert cache_state(cache_prefix) == existing_entries


def test_an_entry_just_over_64_kb_gets_the_cores_message(
    gateway, alice_token, cache_prefix, existing_entries
):
    value = cache_probe.Note(text="x" * (VALUE_MAX_BYTES - 100))
    (request,) = WireCache().set("k", value)
    assert VALUE_MAX_BYTES < len(request.body) <= VALUE_MAX_BYTES + 1024
    response = gateway.put(request.path, request.body, token=alice_token)
    assert response.status_code == 413
    assert "measured on the compact JSON" in error_of(response)["message"]
    assert cache_state(cache_prefix) == existing_entries
