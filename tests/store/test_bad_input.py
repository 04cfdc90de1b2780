"""Bad input: each case raises the named exception with a message naming the rule,
before any write — the documents and the audit trail are unchanged — through the
async face and in the synchronous core alike."""

import base64

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.store.errors import DocumentExists, DocumentNotFound, StoreConflict

from .conftest import partition, stored_state


def nested(depth):
    value = {}
    for _ in range(depth):
        value = {"x": value}
    return value


def dotted(parts):
    return ".".join(f"k{i}" for i in range(parts))


def where_of(keys, value=1):
    return {f"k{i}": value for i in range(keys)}


COLLECTION = "collection must be a string of 1-128 characters"
DOC_ID = "doc_id must be a string of 1-128 characters"
FIELDS = "fields are dot-separated keys"
CURSOR = "cursor is not valid"
SURROGATE = "\ud800"
# A forged cursor whose payload nests 100,000 arrays deep: it must be refused for
# its signature, never parsed (json.loads would raise RecursionError).
DEEP_CURSOR = base64.urlsafe_b64encode(b"[" * 100_000).decode().rstrip("=") + ".AAAA"
# Zero-width, bidi, BOM, soft hyphen and C1 controls: lookalike names.
INVISIBLE = ["\u200b", "\u200e", "\u202e", "\u2066", "\ufeff", "\u00ad", "\x85"]
KEYS_CAP = r"where has 17 keys; the limit is 16 \(IMPERAL_STORE_WHERE_MAX_KEYS\)"
CONDITIONS_CAP = (
    r"more than 32 conditions; the limit is 32 \(IMPERAL_STORE_WHERE_MAX_CONDITIONS\)"
)
IN_CAP = r"to 50\d; the limit is 500 \(IMPERAL_STORE_WHERE_MAX_IN_VALUES\)"
DEPTH_CAP = r"has 9 keys; the limit is 8 \(IMPERAL_STORE_FIELD_MAX_DEPTH\)"

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
    ("query", ("notes",), {"cursor": DEEP_CURSOR}, ValueError, CURSOR),
    ("query", ("notes",), {"cursor": f"x{SURROGATE}.AAAA"}, ValueError, CURSOR),
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
    # Lone surrogates: a ValueError naming the rule, never a UnicodeEncodeError.
    ("create", (f"a{SURROGATE}", {}), {}, ValueError, COLLECTION),
    (
        "create",
        ("notes", {"doc_id": f"x{SURROGATE}"}),
        {},
        ValueError,
        "data.doc_id: strings cannot contain lone surrogates",
    ),
    ("get", ("notes", SURROGATE), {}, ValueError, DOC_ID),
    ("set", (f"notes/{SURROGATE}", {}), {}, ValueError, DOC_ID),
    ("delete", ("notes", f"existing{SURROGATE}"), {}, ValueError, DOC_ID),
    ("query", ("notes",), {"where": {SURROGATE: 1}}, ValueError, FIELDS),
    ("query", ("notes",), {"where": {f"a.{SURROGATE}": 1}}, ValueError, FIELDS),
    ("query", ("notes",), {"order_by": f"-{SURROGATE}"}, ValueError, FIELDS),
    ("count", ("notes",), {"where": {"a": SURROGATE}}, ValueError, "lone surrogates"),
    (
        "query",
        ("notes",),
        {"where": {"a": {"$in": ["ok", SURROGATE]}}},
        ValueError,
        "lone surrogates",
    ),
    (
        "query",
        ("notes",),
        {"where": {"a": {f"${SURROGATE}": 1}}},
        ValueError,
        "unknown operator",
    ),
    (
        "update",
        ("notes", "existing", {SURROGATE: 1}),
        {},
        ValueError,
        "lone surrogates",
    ),
    # Operator objects whose keys are not strings.
    ("query", ("notes",), {"where": {"a": {1: 2}}}, TypeError, "keys must be strings"),
    (
        "query",
        ("notes",),
        {"where": {"a": {"$gt": 1, 2: 3}}},
        ValueError,
        "mixes .operators",
    ),
    # Unicode format characters (category Cf) and C1 controls in names.
    *[("create", (f"notes{c}", {}), {}, ValueError, COLLECTION) for c in INVISIBLE],
    *[
        ("create", ("notes", {"doc_id": f"id{c}"}), {}, ValueError, DOC_ID)
        for c in INVISIBLE
    ],
    *[
        ("query", ("notes",), {"where": {f"a{c}": 1}}, ValueError, FIELDS)
        for c in INVISIBLE
    ],
    ("query", ("notes",), {"order_by": "-a\u200bb"}, ValueError, FIELDS),
    ("set", ("\ufeffnotes/x", {}), {}, ValueError, COLLECTION),
    ("list", ("notes\u202e",), {}, ValueError, COLLECTION),
    ("update", ("notes", "exist\u200ding", {"a": 1}), {}, ValueError, DOC_ID),
    # The caps on a where and on a field's depth, each naming its setting.
    ("query", ("notes",), {"where": where_of(17)}, ValueError, KEYS_CAP),
    ("count", ("notes",), {"where": where_of(17)}, ValueError, KEYS_CAP),
    (
        "query",
        ("notes",),
        {"where": where_of(10_000)},
        ValueError,
        "where has 10000 keys; the limit is 16",
    ),
    (
        "query",
        ("notes",),
        {"where": where_of(11, {"$gt": 0, "$lt": 9, "$ne": 5})},
        ValueError,
        CONDITIONS_CAP,
    ),
    (
        "query",
        ("notes",),
        {"where": {"a": {"$in": list(range(501))}}},
        ValueError,
        IN_CAP,
    ),
    (
        "count",
        ("notes",),
        {"where": {"a": {"$in": list(range(300))}, "b": {"$nin": list(range(201))}}},
        ValueError,
        IN_CAP,
    ),
    ("query", ("notes",), {"where": {dotted(9): 1}}, ValueError, DEPTH_CAP),
    ("query", ("notes",), {"order_by": dotted(9)}, ValueError, DEPTH_CAP),
    (
        "query",
        ("notes",),
        {"where": {dotted(10_000): 1}},
        ValueError,
        "has 10000 keys; the limit is 8",
    ),
    (
        "query",
        ("notes",),
        {"order_by": "-" + dotted(10_000)},
        ValueError,
        "has 10000 keys; the limit is 8",
    ),
]


class CoreStore:
    """The synchronous core called like the face: alice's partition (and, for
    writes, the "user" actor) filled in."""

    WRITES = frozenset({"create", "update", "delete", "set"})

    def __init__(self, core):
        self.core = core

    def __getattr__(self, op):
        method = getattr(self.core, op)
        if op in self.WRITES:
            return lambda *args, **kwargs: method(partition(), "user", *args, **kwargs)
        return lambda *args, **kwargs: method(partition(), *args, **kwargs)


def seeded(store):
    store.create("notes", {"doc_id": "existing", "v": 1})
    store.create("notes", {"doc_id": "second", "v": 2})
    return store


@pytest.fixture
def store(store_of):
    return seeded(store_of("notes", "alice"))


@pytest.fixture
def core_store(core):
    return seeded(CoreStore(core))


def real_cursor(store, order_by=None):
    return store.query("notes", order_by=order_by, limit=1).cursor


def resolved(store, kwargs):
    """Return ``kwargs`` with the placeholder cursors made from real ones."""
    if kwargs.get("cursor") == "TAMPERED":
        cursor = real_cursor(store)
        return {"cursor": cursor[:-2] + ("AA" if cursor[-2:] != "AA" else "BB")}
    if kwargs.get("cursor") == "OTHER_QUERY":
        return {"cursor": real_cursor(store, order_by="-id")}
    return kwargs


def assert_refused(store, op, args, kwargs, exc, message):
    kwargs = resolved(store, kwargs)
    before = stored_state()
    with pytest.raises(exc, match=message) as caught:
        getattr(store, op)(*args, **kwargs)
    assert stored_state() == before
    return caught.value


@pytest.mark.parametrize("op, args, kwargs, exc, message", CASES)
def test_bad_input_through_the_face_raises_and_changes_nothing(
    store, op, args, kwargs, exc, message
):
    assert_refused(store, op, args, kwargs, exc, message)


@pytest.mark.parametrize("op, args, kwargs, exc, message", CASES)
def test_bad_input_in_the_core_raises_and_changes_nothing(
    core_store, op, args, kwargs, exc, message
):
    assert_refused(core_store, op, args, kwargs, exc, message)


ARGUMENT_CASES = [case for case in CASES if case[3] in (TypeError, ValueError)]


@pytest.mark.parametrize("op, args, kwargs, exc, message", ARGUMENT_CASES)
def test_bad_arguments_are_refused_before_any_statement(
    core_store, op, args, kwargs, exc, message
):
    kwargs = resolved(core_store, kwargs)
    with CaptureQueriesContext(connection) as statements:
        with pytest.raises(exc, match=message):
            getattr(core_store, op)(*args, **kwargs)
    assert [q["sql"][:80] for q in statements.captured_queries] == []


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
