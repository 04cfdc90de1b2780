"""The store against a dict model: random operation sequences over several partitions.

The model below is written from the documented semantics (apps.store.query's
docstring), independently of the store's code, and is the oracle.
"""

import itertools
import json
import uuid

import hypothesis.strategies as st
import pytest
from hypothesis import given, settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from apps.store.core import Operations
from apps.store.errors import DocumentExists, DocumentNotFound, StoreConflict
from apps.store.models import AuditEntry, Document

from .conftest import SyncStore, user_ctx

MISSING = object()
APPS = ("notes", "crm")
USERS = ("alice", "bob", "charlie")
COLLECTIONS = ("c1", "c2")
CHOSEN_IDS = ("a", "B", "é", "k-1", "Z9")
FIELDS = ("n", "s", "v", "tags", "nested.k")

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from([-1.5, 0.0, 1.0, 2.5]),
    st.sampled_from(["", "a", "B", "ab", "é", "1"]),
)
values = st.one_of(
    scalars,
    st.lists(scalars, max_size=3),
    st.fixed_dictionaries({"k": scalars}),
)
documents = st.dictionaries(
    st.sampled_from(["n", "s", "v", "tags", "nested"]), values, max_size=4
)
comparable = st.one_of(
    st.integers(-3, 3),
    st.sampled_from([0.5, 2.5]),
    st.sampled_from(["", "a", "B", "é"]),
)
operators = st.one_of(
    st.builds(
        lambda op, v: {op: v},
        st.sampled_from(["$gt", "$gte", "$lt", "$lte"]),
        comparable,
    ),
    st.builds(lambda v: {"$ne": v}, values),
    st.builds(
        lambda op, v: {op: v},
        st.sampled_from(["$in", "$nin"]),
        st.lists(values, max_size=3),
    ),
    st.builds(lambda v: {"$exists": v}, st.booleans()),
    st.builds(lambda v: {"$contains": v}, scalars),
    st.builds(lambda v: {"$startswith": v}, st.sampled_from(["", "a", "é"])),
)
wheres = st.one_of(
    st.none(),
    st.dictionaries(st.sampled_from(FIELDS), st.one_of(values, operators), max_size=2),
)
orders = st.sampled_from(
    [
        None,
        "created_at",
        "-created_at",
        "updated_at",
        "-updated_at",
        "id",
        "-id",
        "n",
        "-n",
        "v",
        "-v",
        "s",
        "nested.k",
        "-tags",
    ]
)
MAIN = ("notes", "alice", "c1")
# Mostly one partition, so documents meet in queries; the others prove isolation.
partitions = st.one_of(
    st.just(MAIN),
    st.just(MAIN),
    st.tuples(
        st.sampled_from(APPS), st.sampled_from(USERS), st.sampled_from(COLLECTIONS)
    ),
)


# --- the oracle ----------------------------------------------------------
def lookup(data, path):
    for key in path.split("."):
        if not isinstance(data, dict) or key not in data:
            return MISSING
        data = data[key]
    return data


def json_eq(a, b):
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(
            json_eq(x, y) for x, y in zip(a, b, strict=True)
        )
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_eq(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def equals(stored, value):
    if value is None:
        return stored is MISSING or stored is None
    return stored is not MISSING and json_eq(stored, value)


def number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def satisfies(stored, op, arg):
    if op == "$ne":
        return not equals(stored, arg)
    if op in ("$in", "$nin"):
        found = any(equals(stored, v) for v in arg)
        return found if op == "$in" else not found
    if op == "$exists":
        return (stored is not MISSING) == arg
    if op == "$contains":
        if isinstance(stored, list):
            return any(equals(element, arg) for element in stored)
        return isinstance(stored, str) and isinstance(arg, str) and arg in stored
    if op == "$startswith":
        return isinstance(stored, str) and stored.startswith(arg)
    same = (number(stored) and number(arg)) or (
        isinstance(stored, str) and isinstance(arg, str)
    )
    if not same:
        return False
    return {
        "$gt": stored > arg,
        "$gte": stored >= arg,
        "$lt": stored < arg,
        "$lte": stored <= arg,
    }[op]


def matches(data, where):
    for field, cond in (where or {}).items():
        stored = lookup(data, field)
        if isinstance(cond, dict) and cond and all(k.startswith("$") for k in cond):
            if not all(satisfies(stored, op, arg) for op, arg in cond.items()):
                return False
        elif not equals(stored, cond):
            return False
    return True


def rank(value):
    if value is MISSING or value is None:
        return (0, 0, "")
    if isinstance(value, str):
        return (1, 0, value)
    if isinstance(value, bool):
        return (3, int(value), "")
    if number(value):
        return (2, value, "")
    return (4 if isinstance(value, list) else 5, 0, "")


def ordered(docs, order_by):
    order_by = order_by or "created_at"
    field = order_by.lstrip("-")

    def key(item):
        doc_id, doc = item
        if field in ("created_at", "updated_at"):
            return (doc[field], doc_id)
        if field == "id":
            return (doc_id,)
        return (*rank(lookup(doc["data"], field)), doc_id)

    return [
        i for i, _ in sorted(docs.items(), key=key, reverse=order_by.startswith("-"))
    ]


def canonical(data):
    return json.dumps(data, sort_keys=True)


# --- the machine ---------------------------------------------------------
class StoreMachine(RuleBasedStateMachine):
    runs = 0

    def __init__(self):
        super().__init__()
        StoreMachine.runs += 1
        self.tenant = uuid.uuid4().hex[:12]
        self.stores = {}
        self.model = {}  # (app, user, collection) -> {doc_id: doc}
        self.seen_etags = ["stale"]
        self.writes = 0

    def store(self, app, user):
        if (app, user) not in self.stores:
            self.stores[app, user] = SyncStore(
                user_ctx(app, user, tenant_id=self.tenant)
            )
        return self.stores[app, user]

    def docs(self, part):
        return self.model.setdefault(part, {})

    def record(self, part, doc):
        self.docs(part)[doc.id] = {
            "data": doc.data,
            "etag": doc.etag,
            "created_at": doc.created_at,
            "updated_at": doc.updated_at,
        }
        self.seen_etags.append(doc.etag)
        self.writes += 1

    def an_id(self, part, data):
        existing = list(self.docs(part))
        return data.draw(
            st.sampled_from(existing + [i for i in CHOSEN_IDS if i not in existing])
        )

    def an_etag(self, part, doc_id, data):
        current = self.docs(part).get(doc_id, {}).get("etag")
        options = ["", "stale", self.seen_etags[-1]] + ([current] if current else [])
        return data.draw(st.sampled_from(options))

    @rule(part=partitions, body=documents, chosen=st.booleans(), data=st.data())
    def create(self, part, body, chosen, data):
        if chosen:
            body = {**body, "doc_id": data.draw(st.sampled_from(CHOSEN_IDS))}
        store = self.store(*part[:2])
        if chosen and body["doc_id"] in self.docs(part):
            with pytest.raises(DocumentExists):
                store.create(part[2], body)
            return
        doc = store.create(part[2], body)
        assert canonical(doc.data) == canonical(body)
        self.record(part, doc)

    @rule(part=partitions, data=st.data())
    def get(self, part, data):
        doc_id = self.an_id(part, data)
        doc = self.store(*part[:2]).get(part[2], doc_id)
        expected = self.docs(part).get(doc_id)
        if expected is None:
            assert doc is None
        else:
            assert (canonical(doc.data), doc.etag) == (
                canonical(expected["data"]),
                expected["etag"],
            )

    @rule(part=partitions, patch=documents, data=st.data())
    def update(self, part, patch, data):
        doc_id = self.an_id(part, data)
        if_match = self.an_etag(part, doc_id, data)
        current = self.docs(part).get(doc_id)
        store = self.store(*part[:2])
        if current is None:
            with pytest.raises(DocumentNotFound):
                store.update(part[2], doc_id, patch, if_match=if_match)
        elif if_match and if_match != current["etag"]:
            with pytest.raises(StoreConflict):
                store.update(part[2], doc_id, patch, if_match=if_match)
        else:
            doc = store.update(part[2], doc_id, patch, if_match=if_match)
            assert canonical(doc.data) == canonical({**current["data"], **patch})
            assert (
                doc.etag != current["etag"] and doc.created_at == current["created_at"]
            )
            self.record(part, doc)

    @rule(part=partitions, body=documents, data=st.data())
    def set(self, part, body, data):
        doc_id = self.an_id(part, data)
        current = self.docs(part).get(doc_id)
        doc = self.store(*part[:2]).set(f"{part[2]}/{doc_id}", body)
        expected = {**current["data"], **body} if current else body
        assert canonical(doc.data) == canonical(expected)
        self.record(part, doc)

    @rule(part=partitions, data=st.data())
    def delete(self, part, data):
        doc_id = self.an_id(part, data)
        if_match = self.an_etag(part, doc_id, data)
        current = self.docs(part).get(doc_id)
        store = self.store(*part[:2])
        if current is not None and if_match and if_match != current["etag"]:
            with pytest.raises(StoreConflict):
                store.delete(part[2], doc_id, if_match=if_match)
            return
        assert store.delete(part[2], doc_id, if_match=if_match) is (current is not None)
        if current is not None:
            del self.docs(part)[doc_id]
            self.writes += 1

    @rule(part=partitions, where=wheres)
    def count(self, part, where):
        expected = sum(matches(d["data"], where) for d in self.docs(part).values())
        assert self.store(*part[:2]).count(part[2], where=where) == expected

    @rule(part=partitions, where=wheres, order_by=orders, limit=st.integers(1, 4))
    def query(self, part, where, order_by, limit):
        store, found, cursor = self.store(*part[:2]), [], None
        while True:
            page = store.query(
                part[2], where=where, order_by=order_by, limit=limit, cursor=cursor
            )
            assert len(page.data) <= limit
            found += [(d.id, canonical(d.data)) for d in page.data]
            if not page.has_more:
                break
            cursor = page.cursor
        matching = {
            i: d for i, d in self.docs(part).items() if matches(d["data"], where)
        }
        expected = [
            (i, canonical(matching[i]["data"])) for i in ordered(matching, order_by)
        ]
        assert found == expected

    @invariant()
    def stored_rows_and_audit_match_the_model(self):
        rows = Document.objects.filter(tenant_id=self.tenant).count()
        assert rows == sum(len(d) for d in self.model.values())
        assert AuditEntry.objects.filter(tenant_id=self.tenant).count() == self.writes


@pytest.fixture
def predictable_ids(monkeypatch):
    """Server-assigned ids from a counter, so hypothesis can replay a run exactly."""
    counter = itertools.count()
    monkeypatch.setattr(
        Operations, "new_id", staticmethod(lambda: f"srv{next(counter):05d}")
    )


@pytest.mark.django_db
def test_the_store_behaves_like_a_dict_model(predictable_ids):
    machine = StoreMachine.TestCase
    machine.settings = settings(settings.default, stateful_step_count=30)
    StoreMachine.runs = 0
    machine().runTest()
    assert StoreMachine.runs >= settings.default.max_examples >= 200


@pytest.mark.django_db
@given(
    bodies=st.lists(documents, min_size=1, max_size=8),
    where=wheres,
    order_by=orders,
    limit=st.integers(1, 4),
)
def test_query_and_count_agree_with_the_model(
    predictable_ids, bodies, where, order_by, limit
):
    store = SyncStore(user_ctx("notes", "alice", tenant_id=uuid.uuid4().hex[:12]))
    docs = {}
    for body in bodies:
        doc = store.create("things", body)
        docs[doc.id] = {
            "data": doc.data,
            "created_at": doc.created_at,
            "updated_at": doc.updated_at,
        }
    expected = [i for i in ordered(docs, order_by) if matches(docs[i]["data"], where)]
    assert store.count("things", where=where) == len(expected)
    found, cursor = [], None
    while True:
        page = store.query(
            "things", where=where, order_by=order_by, limit=limit, cursor=cursor
        )
        found += [d.id for d in page.data]
        if not page.has_more:
            break
        cursor = page.cursor
    assert found == expected
