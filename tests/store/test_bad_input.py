"""Bad input: each case raises the named exception with a message naming the rule,
before any write — the documents and the audit trail are unchanged."""

import pytest

from apps.store.errors import DocumentExists, DocumentNotFound, StoreConflict

from .conftest import stored_state


def nested(depth):
    value = {}
    for _ in range(depth):
        value = {"x": value}
    return value


COLLECTION = "collection must be a string of 1-128 characters"
DOC_ID = "doc_id must be a string of 1-128 characters"
FIELDS = "fields are dot-separated keys"
CURSOR = "cursor is not valid"

CASES = [
    ("create", ("", {}), {}, ValueError, COLLECTION),
    ("create", ("c" * 129, {}), {}, ValueError, COLLECTION),
    ("create", ("mail accounts", {}), {}, ValueError, COLLECTION),
    ("create", ("monitors/sites", {}), {}, ValueError, COLLECTION),
    ("create", ("a:b", {}), {}, ValueError, COLLECTION),
    ("create", ("a*", {}), {}, ValueError, COLLECTION),
    ("create", ("a?", {}), {}, ValueError, COLLECTION),
    ("create", ("a[0]", {}), {}, ValueError, COLLECTION),
    ("create", ("tab\tname", {}), {}, ValueError, COLLECTION),
    ("create", ("nul\x00", {}), {}, ValueError, COLLECTION),
    ("create", (42, {}), {}, TypeError, COLLECTION),
    (
        "create",
        ("notes", ["x"]),
        {},
        TypeError,
        r"data must be a JSON object \(dict\), got list",
    ),
    ("create", ("notes", None), {}, TypeError, "data must be a JSON object"),
    (
        "create",
        ("notes", {"x": float("nan")}),
        {},
        ValueError,
        "data.x: NaN and Infinity",
    ),
    ("create", ("notes", {"x": float("inf")}), {}, ValueError, "NaN and Infinity"),
    (
        "create",
        ("notes", {"x": [1, float("-inf")]}),
        {},
        ValueError,
        r"data.x\[1\]: NaN",
    ),
    ("create", ("notes", {"x": "a\x00b"}), {}, ValueError, "cannot contain NUL"),
    ("create", ("notes", {"k\x00": 1}), {}, ValueError, "cannot contain NUL"),
    ("create", ("notes", {"x": "\ud800"}), {}, ValueError, "lone surrogates"),
    ("create", ("notes", {1: "x"}), {}, TypeError, "keys must be strings"),
    ("create", ("notes", {"x": {1, 2}}), {}, TypeError, "set is not a JSON value"),
    ("create", ("notes", {"x": b"raw"}), {}, TypeError, "bytes is not a JSON value"),
    ("create", ("notes", {"x": (1, 2)}), {}, TypeError, "tuple is not a JSON value"),
    ("create", ("notes", nested(101)), {}, ValueError, "nesting deeper than 100"),
    ("create", ("notes", {"x": 2**64}), {}, ValueError, "integers must fit in 64 bits"),
    ("create", ("notes", {"doc_id": "a/b"}), {}, ValueError, DOC_ID),
    ("create", ("notes", {"doc_id": ""}), {}, ValueError, DOC_ID),
    ("create", ("notes", {"doc_id": "x" * 129}), {}, ValueError, DOC_ID),
    ("create", ("notes", {"doc_id": "two words"}), {}, ValueError, DOC_ID),
    ("create", ("notes", {"doc_id": 7}), {}, TypeError, DOC_ID),
    ("create", ("notes", {"doc_id": "existing"}), {}, DocumentExists, "already exists"),
    ("get", ("notes", "a/b"), {}, ValueError, DOC_ID),
    ("get", ("no such/thing",), {}, ValueError, COLLECTION),
    ("update", ("notes", "existing", {"x": float("nan")}), {}, ValueError, "NaN"),
    (
        "update",
        ("notes", "existing", "text"),
        {},
        TypeError,
        "data must be a JSON object",
    ),
    (
        "update",
        ("notes", "ghost", {"a": 1}),
        {},
        DocumentNotFound,
        "no document 'ghost'",
    ),
    (
        "update",
        ("notes", "existing", {"a": 1}),
        {"if_match": "stale"},
        StoreConflict,
        "modified",
    ),
    (
        "update",
        ("notes", "existing", {"a": 1}),
        {"if_match": None},
        TypeError,
        "if_match",
    ),
    ("update", ("notes", "", {"a": 1}), {}, ValueError, DOC_ID),
    ("delete", ("notes", "existing"), {"if_match": "stale"}, StoreConflict, "modified"),
    ("delete", ("bad name", "x"), {}, ValueError, COLLECTION),
    ("set", ("notes/a/b", {}), {}, ValueError, DOC_ID),
    ("set", ("/x", {}), {}, ValueError, COLLECTION),
    ("set", ("notes/x", {"v": float("nan")}), {}, ValueError, "NaN"),
    ("set", (None, {}), {}, TypeError, "key must be a string"),
    ("set", ("notes/existing", {1: 2}), {}, TypeError, "keys must be strings"),
    ("query", ("notes",), {"limit": 0}, ValueError, "limit must be 1-1000, got 0"),
    ("query", ("notes",), {"limit": 1001}, ValueError, "limit must be 1-1000"),
    ("query", ("notes",), {"limit": "10"}, TypeError, "limit must be an integer"),
    ("query", ("notes",), {"limit": True}, TypeError, "limit must be an integer"),
    ("query", ("notes",), {"where": ["a"]}, TypeError, "where must be a dict"),
    (
        "query",
        ("notes",),
        {"where": {"a": {"$regex": "x"}}},
        ValueError,
        "unknown operator '.regex'",
    ),
    (
        "query",
        ("notes",),
        {"where": {"a": {"$gt": True}}},
        TypeError,
        "takes a number or a string",
    ),
    ("query", ("notes",), {"where": {"a": {"$in": "abc"}}}, TypeError, "takes a list"),
    (
        "query",
        ("notes",),
        {"where": {"a": {"$exists": 1}}},
        TypeError,
        "takes true or false",
    ),
    (
        "query",
        ("notes",),
        {"where": {"a": {"$startswith": 1}}},
        TypeError,
        "takes a string",
    ),
    (
        "query",
        ("notes",),
        {"where": {"a": {"$contains": [1]}}},
        TypeError,
        "takes a string, number",
    ),
    (
        "query",
        ("notes",),
        {"where": {"a": {"$gt": 1, "b": 2}}},
        ValueError,
        "mixes .operators",
    ),
    ("query", ("notes",), {"where": {"a..b": 1}}, ValueError, FIELDS),
    ("query", ("notes",), {"where": {'a"b': 1}}, ValueError, FIELDS),
    ("query", ("notes",), {"where": {"a": float("nan")}}, ValueError, "NaN"),
    ("query", ("notes",), {"order_by": "-"}, ValueError, FIELDS),
    ("query", ("notes",), {"order_by": 5}, TypeError, "order_by must be a string"),
    ("query", ("notes",), {"cursor": "garbage"}, ValueError, CURSOR),
    ("query", ("notes",), {"cursor": "TAMPERED"}, ValueError, CURSOR),
    (
        "query",
        ("notes",),
        {"cursor": "OTHER_QUERY"},
        ValueError,
        "belongs to another query",
    ),
    ("query", ("notes",), {"cursor": 12}, TypeError, "cursor must be a string"),
    (
        "count",
        ("notes",),
        {"where": {"a": {"$nope": 1}}},
        ValueError,
        "unknown operator",
    ),
    ("list", ("bad name",), {}, ValueError, COLLECTION),
]


@pytest.fixture
def store(store_of):
    store = store_of("notes", "alice")
    store.create("notes", {"doc_id": "existing", "v": 1})
    store.create("notes", {"doc_id": "second", "v": 2})
    return store


def real_cursor(store, order_by=None):
    return store.query("notes", order_by=order_by, limit=1).cursor


@pytest.mark.parametrize("op, args, kwargs, exc, message", CASES)
def test_bad_input_raises_and_changes_nothing(store, op, args, kwargs, exc, message):
    if kwargs.get("cursor") == "TAMPERED":
        cursor = real_cursor(store)
        kwargs = {"cursor": cursor[:-2] + ("AA" if cursor[-2:] != "AA" else "BB")}
    elif kwargs.get("cursor") == "OTHER_QUERY":
        kwargs = {"cursor": real_cursor(store, order_by="-id")}
    before = stored_state()
    with pytest.raises(exc, match=message):
        getattr(store, op)(*args, **kwargs)
    assert stored_state() == before


def test_the_table_has_at_least_25_cases():
    assert len(CASES) >= 25


def test_the_operator_cap_on_document_size(store_of, settings):
    settings.IMPERAL_STORE_MAX_DOC_BYTES = 64
    store = store_of("notes", "alice")
    doc = store.create("notes", {"doc_id": "d", "text": "x" * 20})
    before = stored_state()
    cap = r"is \d+ bytes as JSON; this platform's limit \(IMPERAL_STORE_MAX_DOC_BYTES\) is 64"
    with pytest.raises(ValueError, match=cap):
        store.create("notes", {"text": "x" * 64})
    with pytest.raises(ValueError, match=cap):
        store.update("notes", "d", {"more": "y" * 40})  # the merged document counts
    with pytest.raises(ValueError, match=cap):
        store.set("notes/d", {"more": "y" * 40})
    assert stored_state() == before
    assert store.update("notes", "d", {"n": 1}, if_match=doc.etag).data["n"] == 1
