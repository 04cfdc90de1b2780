"""Attacks on ctx.store's resource bounds: huge documents read back, huge and deep
``where``s, invisible characters in names. Each attack is refused with a
ValueError/TypeError naming the rule or cap (or bounded, for reads), and stored
state is unchanged."""

import re
import sqlite3
import time
import tracemalloc
import unicodedata

import psycopg
import pytest
from django.db import DEFAULT_DB_ALIAS, connection, connections, router, transaction

from apps.accounts import ids
from apps.store import query
from apps.store.connections import translated
from apps.store.errors import StoreUnavailable
from apps.store.models import Document
from tests.store import conftest as store_conftest

# The store suite's fixtures: each test runs on every database and connection the
# face runs on (tests/store/conftest.py).
face_mode = store_conftest.face_mode
store_of = store_conftest.store_of
system_store = store_conftest.system_store
stored_state = store_conftest.stored_state

MiB = 1024 * 1024


class Untouchable(dict):
    """A where whose keys must not be looked at: only its size may be taken."""

    def _touched(self, *args):
        raise AssertionError("the where's keys were read before its size was checked")

    items = keys = values = __iter__ = __getitem__ = _touched


class UntouchableList(list):
    """A $in list whose values must not be looked at: only its length may be taken."""

    def _touched(self, *args):
        raise AssertionError("the $in values were read before their number was checked")

    __iter__ = __getitem__ = __contains__ = _touched


def refused(call, exc, message):
    """Run ``call``, which must raise ``exc`` matching ``message`` and change nothing."""
    before = stored_state()
    with pytest.raises(exc, match=message) as caught:
        call()
    assert stored_state() == before
    return caught.value


# --- 1. a huge document is read back alone, and a page stops at its budget --------
def test_a_page_of_huge_documents_loads_only_what_its_budget_allows(store_of):
    store = store_of("notes", "mallory")
    for i in range(6):  # 18 MiB in all; the default budget is 8 MiB
        store.create("blobs", {"doc_id": f"b{i}", "blob": "x" * (3 * MiB)})
    before = stored_state()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        page = store.query("blobs", limit=100)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [d.id for d in page.data] == ["b0", "b1"] and page.has_more
    # Two documents shipped and decoded are ~12 MiB; all six shipped would be 18+.
    assert peak < 16 * MiB, f"the query held {peak / MiB:.1f} MiB"
    rest = store.query("blobs", limit=100, cursor=page.cursor)
    assert [d.id for d in rest.data] == ["b2", "b3"] and rest.has_more
    assert all(d.data["blob"] == "x" * (3 * MiB) for d in page.data + rest.data)
    assert stored_state() == before


def test_one_document_over_the_budget_still_comes_back(store_of, settings):
    store = store_of("notes", "mallory")
    store.create("blobs", {"doc_id": "big", "blob": "y" * MiB})
    settings.IMPERAL_STORE_PAGE_MAX_BYTES = 1024
    page = store.query("blobs")
    assert [d.id for d in page.data] == ["big"] and not page.has_more
    assert [d.id for d in store.list("blobs")] == ["big"]


def test_query_all_of_huge_documents_stops_at_the_budget(store_of, system_store):
    for uid in ("u1", "u2", "u3"):
        store_of("notes", uid).create("blobs", {"blob": "z" * (3 * MiB)})
    docs = system_store("notes").query_all("blobs", limit=500)
    assert [d.user_id for d in docs] == ["u1", "u2"]


# --- 2. where: caps checked before the work they bound, read at call time --------
def test_a_where_with_10000_keys_is_refused_before_its_keys_are_read(store_of):
    store = store_of("notes", "mallory")
    store.create("notes", {"a": 1})
    where = Untouchable({f"k{i}": i for i in range(10_000)})
    refused(
        lambda: store.query("notes", where=where),
        ValueError,
        r"where has 10000 keys; the limit is 16 \(IMPERAL_STORE_WHERE_MAX_KEYS\)",
    )
    refused(lambda: store.count("notes", where=where), ValueError, "10000 keys")


def test_refusing_a_10000_key_where_takes_microseconds_not_seconds():
    values = list(range(1000))
    where = {f"k{i}": {"$in": values} for i in range(10_000)}
    timings = []
    for _ in range(20):
        started = time.perf_counter()
        with pytest.raises(ValueError, match="IMPERAL_STORE_WHERE_MAX_KEYS"):
            query.parse_where(where)
        timings.append(time.perf_counter() - started)
    # The attack ran past a minute; the refusal is a len() and a message.
    assert sorted(timings)[10] < 0.005, timings


def test_in_lists_over_the_cap_are_refused_before_their_values_are_read(store_of):
    store = store_of("notes", "mallory")
    where = {"a": {"$in": UntouchableList(range(1000))}}
    refused(
        lambda: store.query("notes", where=where),
        ValueError,
        r"brings the \$in/\$nin values of this where to 1000; the limit is 500 "
        r"\(IMPERAL_STORE_WHERE_MAX_IN_VALUES\)",
    )
    spread = {f"k{i}": {"$nin": list(range(100))} for i in range(6)}
    refused(lambda: store.count("notes", where=spread), ValueError, "to 600;")


def test_too_many_conditions_are_refused_naming_the_cap(store_of):
    store = store_of("notes", "mallory")
    where = {f"k{i}": {"$gt": 0, "$lt": 9, "$ne": 5} for i in range(12)}
    refused(
        lambda: store.query("notes", where=where),
        ValueError,
        r"more than 32 conditions; the limit is 32 \(IMPERAL_STORE_WHERE_MAX_CONDITIONS\)",
    )


def test_a_10000_key_dotted_path_is_a_value_error_not_a_recursion_error(store_of):
    store = store_of("notes", "mallory")
    deep = ".".join(["a"] * 10_000)
    message = r"has 10000 keys; the limit is 8 \(IMPERAL_STORE_FIELD_MAX_DEPTH\)"
    refused(lambda: store.query("notes", where={deep: 1}), ValueError, message)
    refused(lambda: store.query("notes", order_by=f"-{deep}"), ValueError, message)
    refused(
        lambda: store.count("notes", where={deep: {"$exists": True}}),
        ValueError,
        message,
    )


def test_the_caps_are_read_from_settings_at_each_call(store_of, settings):
    store = store_of("notes", "alice")
    for i in range(3):
        store.create("notes", {"doc_id": f"d{i}", **{f"k{j}": j for j in range(20)}})
    wide = {f"k{j}": j for j in range(20)}
    refused(
        lambda: store.count("notes", where=wide), ValueError, "20 keys; the limit is 16"
    )
    settings.IMPERAL_STORE_WHERE_MAX_KEYS = 20
    assert store.count("notes", where=wide) == 3
    settings.IMPERAL_STORE_WHERE_MAX_KEYS = 2
    refused(
        lambda: store.count("notes", where=where_of(3)), ValueError, "the limit is 2"
    )
    settings.IMPERAL_STORE_FIELD_MAX_DEPTH = 2
    refused(lambda: store.count("notes", where={"a.b.c": 1}), ValueError, "limit is 2")
    assert store.count("notes", where={"a.b": 1}) == 0


def where_of(keys):
    return {f"k{i}": i for i in range(keys)}


def nested(path, leaf):
    for key in reversed(path.split(".")):
        leaf = {key: leaf}
    return leaf


def worst_allowed_where():
    """Every default cap at its limit: 16 keys 8 deep, 32 conditions, 500 $in/$nin
    values, each condition true for every document below (so none is skipped)."""
    where, values = {}, iter(range(1000, 1500))
    for key in range(16):
        field = ".".join([f"k{key}", *"abcdefg"])
        absent = [next(values) for _ in range(32 if key < 4 else 31)]
        where[field] = {"$nin": absent, "$gte": 0}
    assert sum(map(len, where.values())) == 32
    assert sum(len(ops["$nin"]) for ops in where.values()) == 500
    return where


def test_the_costliest_where_the_caps_allow_runs_in_reasonable_time(store_of):
    store = store_of("notes", "alice")
    where = worst_allowed_where()
    for i in range(200):
        data = {}
        for field in where:
            data.update(nested(field, i))
        store.create("things", data)
    order_by = "-" + next(iter(where))
    started = time.perf_counter()
    assert store.count("things", where=where) == 200
    page = store.query("things", where=where, order_by=order_by, limit=50)
    elapsed = time.perf_counter() - started
    assert [d.data["k0"]["a"]["b"]["c"]["d"]["e"]["f"]["g"] for d in page.data] == list(
        range(199, 149, -1)
    )
    assert elapsed < 10, f"{elapsed:.1f} s"  # bench/store/where_caps.py has figures


# --- 3. what the caps keep away: SQLite's limits, and their translation ------------
SQLITE_ALIAS = getattr(store_conftest, "SQLITE_ALIAS", DEFAULT_DB_ALIAS)
ON_SQLITE = pytest.mark.parametrize(
    "face_mode",
    [
        pytest.param(
            "sqlite",
            marks=pytest.mark.django_db(
                databases=sorted({DEFAULT_DB_ALIAS, SQLITE_ALIAS})
            ),
        )
    ],
    indirect=True,
)


def store_vendor():
    return connections[router.db_for_write(Document)].vendor


@ON_SQLITE
def test_in_lists_compile_flat_far_from_sqlites_expression_depth(store_of, settings):
    store = store_of("notes", "alice")
    assert store_vendor() == "sqlite"
    for i in range(5):
        store.create("notes", {"doc_id": f"d{i}", "n": i, "tag": f"t{i}"})
    store.create("notes", {"doc_id": "bare"})
    # As an OR chain, 5,000 values would be 5,000 deep (SQLite's limit is 1,000).
    settings.IMPERAL_STORE_WHERE_MAX_IN_VALUES = 5000
    many = list(range(2, 2502)) + [f"t{i}" for i in range(2500)]
    assert store.count("notes", where={"n": {"$in": many}}) == 3
    assert store.count("notes", where={"tag": {"$nin": many}}) == 1  # "bare"
    assert store.count("notes", where={"n": {"$in": [True, 1.0, None, "1"]}}) == 2
    assert store.count("notes", where={"n": {"$nin": [False, 0, [0], {"n": 0}]}}) == 5


@ON_SQLITE
def test_past_raised_caps_sqlites_expression_limit_is_a_value_error(store_of, settings):
    store = store_of("notes", "alice")
    assert store_vendor() == "sqlite"
    store.create("notes", {"k0": 0})
    settings.IMPERAL_STORE_WHERE_MAX_KEYS = 5000
    settings.IMPERAL_STORE_WHERE_MAX_CONDITIONS = 5000
    error = refused(
        lambda: store.count("notes", where=where_of(1500)),
        ValueError,
        "over the database's limits .*Expression tree is too large",
    )
    assert isinstance(error, query.QueryTooLarge)
    assert not isinstance(error, StoreUnavailable)
    settings.IMPERAL_STORE_WHERE_MAX_KEYS = 16  # the default keeps it unreachable
    refused(
        lambda: store.count("notes", where=where_of(1500)), ValueError, "limit is 16"
    )


def sqlite_error(sql, params=()):
    """Return the error SQLite raises for ``sql`` (a real driver error), on a
    connection allowing 100 variables (this build's default is 250,000)."""
    conn = sqlite3.connect(":memory:")
    conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 100)
    with pytest.raises(sqlite3.OperationalError) as caught:
        conn.execute(sql, params)
    return caught.value


@pytest.mark.parametrize(
    "sql, params",
    [
        ("SELECT 1" + " + 1" * 1001, ()),
        ("SELECT " + "(" * 200 + "1" + ")" * 200, ()),
        ("SELECT 1 WHERE 1 IN (" + ",".join("?" * 101) + ")", (1,) * 101),
    ],
    ids=["expression-depth", "parser-stack", "variables"],
)
def test_sqlites_limits_are_translated_into_a_value_error(sql, params):
    error = translated(sqlite_error(sql, params))
    assert isinstance(error, query.QueryTooLarge) and isinstance(error, ValueError)
    assert "over the database's limits" in str(error)
    assert not isinstance(translated(sqlite3.OperationalError("locked")), ValueError)


@pytest.mark.postgres
@pytest.mark.django_db
def test_postgresqls_program_limits_are_translated_into_a_value_error():
    too_deep = "SELECT " + " + ".join(["1"] * 100_000)
    with pytest.raises(Exception) as on_django, transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(too_deep)  # Django's error, psycopg's as its cause
    params = connection.get_connection_params()
    for django_only in ("context", "cursor_factory", "prepare_threshold"):
        params.pop(django_only, None)
    with psycopg.connect(**params) as conn:  # the async pool's errors are psycopg's
        with pytest.raises(psycopg.errors.StatementTooComplex) as on_pool:
            conn.execute(too_deep)
    for exc in (on_django.value, on_pool.value):
        error = translated(exc)
        assert isinstance(error, query.QueryTooLarge), exc
        assert "stack depth limit exceeded" in str(error)
    assert isinstance(translated(psycopg.OperationalError("gone")), StoreUnavailable)


# --- 4./5. surrogates, format and control characters in names ----------------------
def test_the_format_characters_rule_is_exactly_unicode_category_cf():
    everything = [chr(c) for c in range(0x110000)]
    rule = re.compile(f"[{ids.FORMAT_CHARACTERS}]")
    assert {c for c in everything if rule.match(c)} == {
        c for c in everything if unicodedata.category(c) == "Cf"
    }


INVISIBLE = [
    "\u200b",  # zero-width space
    "\u200f",  # right-to-left mark
    "\u202a",  # left-to-right embedding
    "\u202e",  # right-to-left override
    "\u2060",  # word joiner
    "\u2069",  # pop directional isolate
    "\ufeff",  # byte order mark
    "\U000e0001",  # language tag
    "\x9f",  # a C1 control
    "\ud800",  # a lone surrogate
]


@pytest.mark.parametrize(
    "character", INVISIBLE, ids=[f"U+{ord(c):04X}" for c in INVISIBLE]
)
def test_invisible_characters_are_refused_in_every_name(store_of, character):
    store = store_of("notes", "alice")
    store.create("notes", {"doc_id": "real", "a": 1})
    name = f"re{character}al"
    refused(
        lambda: store.create(f"no{character}tes", {}), ValueError, "collection must"
    )
    refused(lambda: store.list(f"no{character}tes"), ValueError, "collection must")
    refused(lambda: store.set(f"notes/{name}", {}), ValueError, "doc_id must")
    refused(lambda: store.get("notes", name), ValueError, "doc_id must")
    refused(lambda: store.delete("notes", name), ValueError, "doc_id must")
    refused(
        lambda: store.query("notes", where={f"a{character}": 1}), ValueError, "fields"
    )
    refused(
        lambda: store.query("notes", order_by=f"-a{character}"), ValueError, "fields"
    )
    assert [d.id for d in store.list("notes")] == ["real"]


def test_plain_non_ascii_names_are_still_accepted(store_of):
    store = store_of("notes", "alice")
    doc = store.create("заметки", {"doc_id": "café-☕", "straße": {"größe": 1}})
    assert store.get("заметки", "café-☕") == doc
    assert store.count("заметки", where={"straße.größe": 1}) == 1
    ordered = store.query("заметки", order_by="-straße.größe")
    assert [d.id for d in ordered.data] == ["café-☕"]
