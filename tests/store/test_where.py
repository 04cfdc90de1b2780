"""where and order_by: JSON equality, operators, dotted paths and mixed-type order,
the same on every database and connection."""

import pytest

DOCS = {
    "t": {"v": True, "name": "Ada", "tags": ["x", 1], "address": {"city": "Paris"}},
    "one": {"v": 1, "name": "alan", "tags": ["y"], "address": {"city": "Rome"}},
    "onef": {"v": 1.0, "name": "Grace", "address": {"zip": "1"}},
    "two": {"v": 2.5, "name": "Ädam", "tags": []},
    "s": {"v": "1", "name": "bob", "address": "Paris"},
    "null": {"v": None, "name": "ab"},
    "none": {"name": "abc", "tags": "x-y"},
    "arr": {"v": [1, 2], "address": {"city": "Paris", "zip": "75"}},
    "obj": {"v": {"k": 1}},
    "f": {"v": False},
}

CASES = [
    ({"v": True}, {"t"}),
    ({"v": 1}, {"one", "onef"}),  # numbers by value: 1 == 1.0
    ({"v": 1.0}, {"one", "onef"}),
    ({"v": "1"}, {"s"}),
    ({"v": False}, {"f"}),
    ({"v": 0}, set()),  # False is not 0
    ({"v": None}, {"null", "none", "f"} - {"f"} | set()),
    ({"v": [1, 2]}, {"arr"}),
    ({"v": [1]}, set()),  # arrays compare whole, not by containment
    ({"v": [1.0, 2]}, {"arr"}),
    ({"v": {"k": 1}}, {"obj"}),
    ({"v": {}}, set()),
    ({"tags": "x"}, set()),  # equality never looks inside an array
    ({"address.city": "Paris"}, {"t", "arr"}),  # a string field is not an object
    ({"address": {"zip": "1"}}, {"onef"}),
    ({"address.city": None}, set(DOCS) - {"t", "one", "arr"}),
    ({"name": "Ada", "v": True}, {"t"}),
    ({"v": {"$gt": 1}}, {"two"}),
    ({"v": {"$gte": 1}}, {"one", "onef", "two"}),
    ({"v": {"$lt": 1}}, set()),
    ({"v": {"$lte": 2.5, "$gt": 1.0}}, {"two"}),
    (
        {"name": {"$gt": "a"}},
        {"one", "s", "null", "none", "two"},
    ),
    ({"name": {"$lt": "B"}}, {"t"}),  # code point order: uppercase first
    ({"v": {"$gt": "0"}}, {"s"}),  # strings only compare with strings
    ({"v": {"$ne": 1}}, set(DOCS) - {"one", "onef"}),
    ({"v": {"$ne": None}}, set(DOCS) - {"null", "none"}),
    ({"v": {"$in": [True, "1", None]}}, {"t", "s", "null", "none"}),
    ({"v": {"$in": [[1, 2], 2.5]}}, {"arr", "two"}),
    ({"v": {"$in": []}}, set()),
    ({"v": {"$nin": [1, None]}}, set(DOCS) - {"one", "onef", "null", "none"}),
    ({"v": {"$exists": True}}, set(DOCS) - {"none"}),
    ({"v": {"$exists": False}}, {"none"}),
    ({"address.zip": {"$exists": True}}, {"onef", "arr"}),
    ({"tags": {"$contains": "x"}}, {"t", "none"}),  # array element or substring
    ({"tags": {"$contains": 1}}, {"t"}),
    ({"tags": {"$contains": True}}, set()),
    ({"v": {"$contains": 2}}, {"arr"}),
    ({"name": {"$startswith": "a"}}, {"one", "null", "none"}),
    ({"name": {"$startswith": "Ä"}}, {"two"}),
    ({"name": {"$startswith": ""}}, set(DOCS) - {"arr", "obj", "f"}),
]


@pytest.fixture
def seeded(store_of, ticking_clock):
    store = store_of("notes", "alice")
    for doc_id, data in DOCS.items():
        store.create("things", {"doc_id": doc_id, **data})
    return store


def test_where_matches_by_the_stores_rules(seeded):
    for where, expected in CASES:
        found = {d.id for d in seeded.query("things", where=where).data}
        assert (where, found) == (where, expected)
        assert seeded.count("things", where=where) == len(expected), where


def test_order_by_a_data_field_sorts_mixed_types_in_a_defined_order(seeded):
    ascending = [d.id for d in seeded.query("things", order_by="v").data]
    # null/missing < strings < numbers < booleans < arrays < objects; ties by id
    assert ascending == [
        "none",
        "null",
        "s",
        "one",
        "onef",
        "two",
        "f",
        "t",
        "arr",
        "obj",
    ]
    descending = [d.id for d in seeded.query("things", order_by="-v").data]
    assert descending == ascending[::-1]
    by_name = [d.id for d in seeded.query("things", order_by="name").data]
    assert by_name == [
        "arr",
        "f",
        "obj",
        "t",
        "onef",
        "null",
        "none",
        "one",
        "s",
        "two",
    ]


@pytest.mark.parametrize(
    "order_by", ["v", "-v", "name", "-name", "address.city", "-id"]
)
def test_paging_by_any_order_visits_every_document_once(seeded, order_by):
    whole = [d.id for d in seeded.query("things", order_by=order_by).data]
    paged, cursor = [], None
    while True:
        page = seeded.query("things", order_by=order_by, limit=3, cursor=cursor)
        paged += [d.id for d in page.data]
        if not page.has_more:
            break
        cursor = page.cursor
    assert paged == whole and len(whole) == len(DOCS)


def test_paging_with_a_where_keeps_the_filter(seeded):
    where = {"v": {"$exists": True}}
    first = seeded.query("things", where=where, order_by="-created_at", limit=4)
    rest = seeded.query(
        "things", where=where, order_by="-created_at", cursor=first.cursor
    )
    ids = [d.id for d in first.data + rest.data]
    assert ids == [i for i in reversed(DOCS) if i != "none"]
