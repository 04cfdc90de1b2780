"""The store on SQLite: JSON text, writes serialized by the IMMEDIATE transaction's lock."""

import datetime
import json

from apps.common.statements import BEGIN, COMMIT
from apps.common.timestamps import rfc3339

from ..query import (
    RANK_ARRAY,
    RANK_BOOLEAN,
    RANK_NUMBER,
    RANK_OBJECT,
    RANK_STRING,
    json_equal,
)
from ..shards import USER_HASH_SQL_SQLITE, user_hash
from ..validation import encode
from . import base
from .base import BaseStoreBackend

INSERT = f"""INSERT INTO {base.DOCUMENTS} ({base.INSERT_COLUMNS})
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (tenant_id, app_id, user_id, collection, doc_id) DO NOTHING
RETURNING doc_id"""
REPLACE = f"""UPDATE {base.DOCUMENTS} SET data = %s, updated_at = %s, etag = %s
WHERE {base.KEY} AND etag = %s RETURNING doc_id"""
DELETE = f"DELETE FROM {base.DOCUMENTS} WHERE {base.KEY} RETURNING doc_id"
DELETE_IF_MATCH = (
    f"DELETE FROM {base.DOCUMENTS} WHERE {base.KEY} AND etag = %s RETURNING doc_id"
)
AUDIT_INSERT = f"""INSERT INTO {base.AUDIT} ({base.AUDIT_COLUMNS})
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"""
_STATS = (
    "FROM store_partition_stats WHERE tenant_id = %s AND app_id = %s AND user_id = %s"
)
HELD = f" RETURNING (SELECT documents {_STATS}), (SELECT bytes {_STATS})"
USER_IDS = f"""SELECT DISTINCT user_id FROM {base.DOCUMENTS} WHERE {base.FAN_OUT}{{shard}}
AND user_id > %s ORDER BY user_id LIMIT %s"""
_TIMESTAMP = "%Y-%m-%d %H:%M:%S.%f"
_NUMBER_TYPES = "('integer', 'real')"
_SCALAR_TYPES = "('integer', 'real', 'text')"
_COMPARISONS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


def register_functions(sender, connection, **kwargs):
    """Give every new SQLite connection the JSON equality the store's where uses."""
    if connection.vendor == "sqlite":
        connection.connection.create_function(
            "store_json_equal", 2, _json_equal_texts, deterministic=True
        )
        connection.connection.create_function(
            "store_user_hash", 1, _user_hash, deterministic=True
        )


def _user_hash(user_id):
    return user_hash(user_id) if isinstance(user_id, str) else None


def _json_equal_texts(left, right):
    if not isinstance(left, str) or not isinstance(right, str):
        return 0
    return int(json_equal(json.loads(left), json.loads(right)))


class StoreBackend(BaseStoreBackend):
    vendor = "sqlite"
    text_page = "SELECT raw.*, raw.data AS body FROM ({page}) AS raw"
    size_sql = "length(CAST(body AS BLOB))"
    user_hash_sql = USER_HASH_SQL_SQLITE

    def insert(self, key, text, now, etag, audit, quota=None):
        yield BEGIN
        inserted = yield (INSERT, (*key, text, now, now, etag))
        if inserted and quota:
            # The audit row's insert answers what the partition holds now: the
            # trigger added one document of the text's bytes.
            params = (now, *key, *audit, etag, *key[:3], *key[:3])
            rows = yield (AUDIT_INSERT + HELD, params)
            after, grown = tuple(rows[0]), len(text.encode("utf-8"))
            quota.check((after[0] - 1, after[1] - grown), after)
        elif inserted:
            yield from self._audit(key, now, etag, audit)
        yield COMMIT
        return bool(inserted)

    def replace(self, key, text, now, etag, expected_etag, audit, quota=None):
        yield BEGIN
        before = (yield from quota.held()) if quota else None
        replaced = yield (REPLACE, (text, now, etag, *key, expected_etag))
        if replaced:
            yield from self._audit(key, now, etag, audit)
            if quota:
                quota.check(before, (yield from quota.held()))
        yield COMMIT
        return bool(replaced)

    def delete(self, key, if_match, now, audit):
        yield BEGIN
        if if_match:
            deleted = yield (DELETE_IF_MATCH, (*key, if_match))
        else:
            deleted = yield (DELETE, key)
        if deleted:
            yield from self._audit(key, now, "", audit)
        yield COMMIT
        return bool(deleted)

    def user_ids(self, fan_out, after, limit, shard=None):
        in_shard, shard_params = self.shard_filter(shard)
        sql = USER_IDS.format(shard=in_shard)
        rows = yield (sql, (*fan_out, *shard_params, after, limit))
        return [row[0] for row in rows]

    def timestamp_param(self, moment):
        return moment.astimezone(datetime.UTC).strftime(_TIMESTAMP)

    def timestamp_text(self, value):
        # Django's SQLite connection parses datetime columns (naive UTC).
        if isinstance(value, str):
            value = datetime.datetime.fromisoformat(value)
        return rfc3339(value)

    def _audit(self, key, now, etag, audit):
        yield (AUDIT_INSERT, (now, *key, *audit, etag))

    # --- where -----------------------------------------------------------
    def _where(self, scope, conditions):
        sql, params = [base.SCOPE], list(scope)
        for condition in conditions:
            fragment, fragment_params = self._predicate(condition)
            sql.append(fragment)
            params.extend(fragment_params)
        return " AND ".join(sql), params

    def _predicate(self, condition):
        path, op, value = _json_path(condition.path), condition.op, condition.value
        if op in ("eq", "ne"):
            sql, params = _equals(path, value)
            return (sql if op == "eq" else f"NOT {sql}"), params
        if op in ("in", "nin"):
            sql, params = _one_of(path, value)
            return (sql if op == "in" else f"NOT {sql}"), params
        if op == "exists":
            return f"(json_type(data, %s) IS {'NOT ' if value else ''}NULL)", [path]
        if op in ("gt", "gte", "lt", "lte"):
            sign = _COMPARISONS[op]
            kinds = "= 'text'" if isinstance(value, str) else f"IN {_NUMBER_TYPES}"
            test = f"json_extract(data, %s) {sign} %s"
            return _typed(path, kinds, test, [path, value])
        if op == "contains":
            return _contains(path, value)
        test = "substr(json_extract(data, %s), 1, length(%s)) = %s"
        return _typed(path, "= 'text'", test, [path, value, value])

    # --- order and keyset ------------------------------------------------
    def _order(self, ordering):
        if ordering.field in ("created_at", "updated_at"):
            return [ordering.field, "doc_id"], []
        if ordering.field == "id":
            return ["doc_id"], []
        path = _json_path(ordering.path)
        kind, value = "json_type(data, %s)", "json_extract(data, %s)"
        rank = (
            f"CASE {kind} WHEN 'text' THEN {RANK_STRING} WHEN 'integer' THEN "
            f"{RANK_NUMBER} WHEN 'real' THEN {RANK_NUMBER} WHEN 'true' THEN "
            f"{RANK_BOOLEAN} WHEN 'false' THEN {RANK_BOOLEAN} WHEN 'array' THEN "
            f"{RANK_ARRAY} WHEN 'object' THEN {RANK_OBJECT} ELSE 0 END"
        )
        number = (
            f"CASE WHEN {kind} IN ('integer', 'real', 'true', 'false') "
            f"THEN {value} ELSE 0 END"
        )
        text = f"CASE WHEN {kind} = 'text' THEN {value} ELSE '' END"
        return [rank, number, text, "doc_id"], [path] * 5

    def _keyset(self, ordering, order, order_params, after):
        key, doc_id = after
        op = "<" if ordering.descending else ">"
        if ordering.field in ("created_at", "updated_at"):
            moment = self.timestamp_param(datetime.datetime.fromisoformat(key[0]))
            return f"({ordering.field}, doc_id) {op} (%s, %s)", [moment, doc_id]
        if ordering.field == "id":
            return f"doc_id {op} %s", [doc_id]
        sql = f"({', '.join(order)}) {op} (%s, %s, %s, %s)"
        return sql, [*order_params, *key, doc_id]


def _json_path(path):
    """Return the SQLite JSON path of a data path (keys are validated: no quotes)."""
    return "$" + "".join(f'."{key}"' for key in path)


def _equals(path, value):
    """A definite (never NULL) test of JSON equality at ``path``."""
    kind = "json_type(data, %s)"
    if value is None:
        return f"(COALESCE({kind}, 'null') = 'null')", [path]
    if isinstance(value, bool):
        return f"COALESCE({kind} = '{str(value).lower()}', 0)", [path]
    if isinstance(value, str):
        return _typed(path, "= 'text'", "json_extract(data, %s) = %s", [path, value])
    if isinstance(value, int | float):
        test = "json_extract(data, %s) = %s"
        return _typed(path, f"IN {_NUMBER_TYPES}", test, [path, value])
    kinds = "= 'array'" if isinstance(value, list) else "= 'object'"
    test = "store_json_equal(json_extract(data, %s), %s)"
    return _typed(path, kinds, test, [path, encode(value)])


def _one_of(path, values):
    """A definite test that the value at ``path`` equals one of ``values``.

    Each kind of value is one test whatever the list's length: numbers and
    strings are looked up in the list's json_each (an index SQLite builds once),
    arrays and objects compared by store_json_equal, so no long OR chain (or
    deep expression tree) is ever built.
    """
    scalars = [v for v in values if isinstance(v, str | int | float)]
    scalars = [v for v in scalars if not isinstance(v, bool)]
    booleans = sorted({str(v).lower() for v in values if isinstance(v, bool)})
    containers = [v for v in values if isinstance(v, list | dict)]
    tests, params = [], []
    if scalars:
        test = "json_extract(data, %s) IN (SELECT value FROM json_each(%s))"
        sql, test_params = _typed(
            path, f"IN {_SCALAR_TYPES}", test, [path, encode(scalars)]
        )
        tests.append(sql)
        params += test_params
    if booleans:
        kinds = ", ".join(f"'{kind}'" for kind in booleans)
        tests.append(f"COALESCE(json_type(data, %s) IN ({kinds}), 0)")
        params.append(path)
    if containers:
        test = (
            "EXISTS (SELECT 1 FROM json_each(%s) AS e "
            "WHERE store_json_equal(json_extract(data, %s), e.value))"
        )
        sql, test_params = _typed(
            path, "IN ('array', 'object')", test, [encode(containers), path]
        )
        tests.append(sql)
        params += test_params
    if None in values:
        sql, null_params = _equals(path, None)
        tests.append(sql)
        params += null_params
    return f"({' OR '.join(tests) or '0'})", params


def _typed(path, kinds, test, test_params):
    """A test that runs only when the value's json_type is ``kinds`` (0 otherwise)."""
    sql = f"(CASE WHEN json_type(data, %s) {kinds} THEN COALESCE({test}, 0) ELSE 0 END)"
    return sql, [path, *test_params]


def _contains(path, value):
    if value is None:
        element, element_params = "e.type = 'null'", []
    elif isinstance(value, bool):
        element, element_params = f"e.type = '{str(value).lower()}'", []
    elif isinstance(value, str):
        element, element_params = "e.type = 'text' AND e.value = %s", [value]
    else:
        element = f"e.type IN {_NUMBER_TYPES} AND e.value = %s"
        element_params = [value]
    sql = (
        "CASE json_type(data, %s) WHEN 'array' THEN EXISTS (SELECT 1 FROM "
        f"json_each(data, %s) AS e WHERE {element})"
    )
    params = [path, path, *element_params]
    if isinstance(value, str):
        sql += " WHEN 'text' THEN instr(json_extract(data, %s), %s) > 0"
        params += [path, value]
    return f"({sql} ELSE 0 END)", params
