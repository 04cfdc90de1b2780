"""The store on PostgreSQL: jsonb, and every write with its audit row in one statement."""

import datetime

from apps.common.statements import COMMIT, SAVEPOINT
from apps.common.timestamps import rfc3339

from ..query import RANK_ARRAY, RANK_BOOLEAN, RANK_NUMBER, RANK_OBJECT, RANK_STRING
from ..quota import QUOTA_SETTING
from ..shards import USER_HASH_SQL_POSTGRESQL, user_hash
from ..validation import encode
from . import base
from .base import BaseStoreBackend

_RETURNING = "RETURNING tenant_id, app_id, user_id, collection, doc_id, data, "
_RETURNING += "created_at, updated_at, etag"
# The audit row is a second data-modifying CTE over the first one's RETURNING,
# so write and audit commit (or fail) together without an explicit transaction.
_AUDIT_CTE = f"""audit AS (
    INSERT INTO {base.AUDIT} ({base.AUDIT_COLUMNS})
    SELECT updated_at, tenant_id, app_id, user_id, collection, doc_id,
        %s, %s, %s, %s::jsonb, etag
    FROM doc)"""
_VALUES = "VALUES (%s, %s, %s, %s, %s, %s::jsonb, %s, %s, %s)"
_CONFLICT = "ON CONFLICT (tenant_id, app_id, user_id, collection, doc_id)"

INSERT = f"""WITH doc AS (
    INSERT INTO {base.DOCUMENTS} ({base.INSERT_COLUMNS}) {_VALUES}
    {_CONFLICT} DO NOTHING {_RETURNING}), {_AUDIT_CTE}
SELECT count(*) FROM doc"""
UPSERT = f"""WITH doc AS (
    INSERT INTO {base.DOCUMENTS} ({base.INSERT_COLUMNS}) {_VALUES}
    {_CONFLICT} DO UPDATE SET data = {base.DOCUMENTS}.data || EXCLUDED.data,
        updated_at = EXCLUDED.updated_at, etag = EXCLUDED.etag
    {_RETURNING}), {_AUDIT_CTE}
SELECT {base.ROW} FROM doc"""
MERGE = f"""WITH doc AS (
    UPDATE {base.DOCUMENTS} SET data = data || %s::jsonb, updated_at = %s, etag = %s
    WHERE {base.KEY} {_RETURNING}), {_AUDIT_CTE}
SELECT {base.ROW} FROM doc"""
MERGE_IF_MATCH = MERGE.replace(f"WHERE {base.KEY}", f"WHERE {base.KEY} AND etag = %s")
REPLACE = f"""WITH doc AS (
    UPDATE {base.DOCUMENTS} SET data = %s::jsonb, updated_at = %s, etag = %s
    WHERE {base.KEY} AND etag = %s {_RETURNING}), {_AUDIT_CTE}
SELECT count(*) FROM doc"""
DELETE = f"""WITH doc AS (
    DELETE FROM {base.DOCUMENTS} WHERE {base.KEY} RETURNING tenant_id, app_id, user_id,
        collection, doc_id),
audit AS (
    INSERT INTO {base.AUDIT} ({base.AUDIT_COLUMNS})
    SELECT %s, tenant_id, app_id, user_id, collection, doc_id, %s, %s, %s, %s::jsonb, ''
    FROM doc)
SELECT count(*) FROM doc"""
DELETE_IF_MATCH = DELETE.replace(f"WHERE {base.KEY}", f"WHERE {base.KEY} AND etag = %s")
# A loose index scan: one index probe per distinct user instead of reading
# every document of the collection.
USER_IDS = f"""WITH RECURSIVE users(user_id) AS (
    (SELECT user_id FROM {base.DOCUMENTS} WHERE {base.FAN_OUT} AND user_id > %s
     ORDER BY user_id LIMIT 1)
    UNION ALL
    SELECT (SELECT d.user_id FROM {base.DOCUMENTS} d
            WHERE d.tenant_id = %s AND d.app_id = %s AND d.collection = %s
              AND d.user_id <> %s AND d.user_id > users.user_id
            ORDER BY d.user_id LIMIT 1)
    FROM users WHERE users.user_id IS NOT NULL)
SELECT user_id FROM users WHERE user_id IS NOT NULL LIMIT %s"""
# One shard's users: the same loose index scan over the store_doc_fanout_hash
# index, whose keys are (tenant, app, collection, user hash, user id), so a
# shard reads only its own hash range.
_H = USER_HASH_SQL_POSTGRESQL.format(column="user_id")
_DH = USER_HASH_SQL_POSTGRESQL.format(column="d.user_id")
SHARD_USER_IDS = f"""WITH RECURSIVE users(h, user_id) AS (
    (SELECT {_H}, user_id FROM {base.DOCUMENTS} WHERE {base.FAN_OUT}
       AND ({_H}, user_id) > (%s, %s) AND {_H} < %s
     ORDER BY {_H}, user_id LIMIT 1)
    UNION ALL
    SELECT n.h, n.user_id FROM users, LATERAL (
        SELECT {_DH} AS h, d.user_id FROM {base.DOCUMENTS} d
        WHERE d.tenant_id = %s AND d.app_id = %s AND d.collection = %s
          AND d.user_id <> %s AND ({_DH}, d.user_id) > (users.h, users.user_id)
          AND {_DH} < %s
        ORDER BY {_DH}, d.user_id LIMIT 1) n)
SELECT user_id FROM users LIMIT %s"""
_DOC_ID = 'doc_id COLLATE "C"'
# A write under a quota sets it for the statistics trigger (apps.store.quota),
# for this transaction only, in the write's own statement.
_QUOTA_CTE = f"quota AS (SELECT set_config('{QUOTA_SETTING}', %s, true) AS q), "


def _under(quota, sql, params):
    """Run a write statement under ``quota`` (or None); return its rows.

    The trigger's refusal fails the statement: inside a caller's transaction
    it runs in a savepoint, so the refusal leaves that transaction usable.
    """
    if quota is None:
        return (yield (sql, params))
    head, final = sql.rsplit(" FROM doc", 1)
    sql = f"WITH {_QUOTA_CTE}{head[len('WITH ') :]} FROM doc, quota{final}"
    yield SAVEPOINT
    rows = yield (sql, (quota.setting(), *params))
    yield COMMIT
    return rows


class StoreBackend(BaseStoreBackend):
    vendor = "postgresql"
    # OFFSET 0 keeps the text from being computed twice (for the size and the
    # reply); the ORDER BY, which the page already has, spares the window a sort.
    text_page = (
        "SELECT raw.*, raw.data::text AS body FROM ({page}) AS raw "
        "ORDER BY {keys} OFFSET 0"
    )
    size_sql = "octet_length(body)"
    budget_param = "%s::bigint"
    merges_in_sql = True
    user_hash_sql = USER_HASH_SQL_POSTGRESQL
    row_lock = " FOR UPDATE"

    def insert(self, key, text, now, etag, audit, quota=None):
        rows = yield from _under(quota, INSERT, (*key, text, now, now, etag, *audit))
        return rows[0][0] == 1

    def replace(self, key, text, now, etag, expected_etag, audit, quota=None):
        params = (text, now, etag, *key, expected_etag, *audit)
        rows = yield from _under(quota, REPLACE, params)
        return rows[0][0] == 1

    def merge(self, key, patch, now, etag, if_match, audit, quota=None):
        if if_match:
            params = (patch, now, etag, *key, if_match, *audit)
            rows = yield from _under(quota, MERGE_IF_MATCH, params)
        else:
            rows = yield from _under(quota, MERGE, (patch, now, etag, *key, *audit))
        return rows[0] if rows else None

    def upsert(self, key, text, now, etag, audit, quota=None):
        rows = yield from _under(quota, UPSERT, (*key, text, now, now, etag, *audit))
        return rows[0]

    def delete(self, key, if_match, now, audit):
        if if_match:
            rows = yield (DELETE_IF_MATCH, (*key, if_match, now, *audit))
        else:
            rows = yield (DELETE, (*key, now, *audit))
        return rows[0][0] == 1

    def user_ids(self, fan_out, after, limit, shard=None):
        if shard is None:
            rows = yield (USER_IDS, (*fan_out, after, *fan_out, limit))
            return [row[0] for row in rows]
        low, high = shard.bounds
        # Exclusive start: past ``after``, or before every id of the range.
        start = (user_hash(after), after) if after else (low, "")
        params = (*fan_out, *start, high, *fan_out, high, limit)
        rows = yield (SHARD_USER_IDS, params)
        return [row[0] for row in rows]

    def timestamp_param(self, moment):
        return moment

    def timestamp_text(self, value):
        return rfc3339(value)

    # --- where -----------------------------------------------------------
    def _where(self, scope, conditions):
        sql, params = [base.SCOPE], list(scope)
        contained = {}
        for condition in conditions:
            if condition.op == "eq" and _is_containable(condition.value):
                if _merge_path(contained, condition.path, condition.value):
                    continue
            fragment, fragment_params = self._predicate(condition)
            sql.append(fragment)
            params.extend(fragment_params)
        if contained:
            # Scalar equalities become one containment test, which the GIN
            # (jsonb_path_ops) index can serve and whose text never varies.
            sql.append("data @> %s::jsonb")
            params.append(encode(contained))
        return " AND ".join(sql), params

    def _predicate(self, condition):
        field, path = _field(condition.path)
        op, value = condition.op, condition.value
        if op in ("eq", "ne"):
            sql, params = _equals(field, path, value)
            return (sql if op == "eq" else f"NOT {sql}"), params
        if op in ("in", "nin"):
            sql, params = _one_of(field, path, value)
            return (sql if op == "in" else f"NOT {sql}"), params
        if op == "exists":
            return f"({field} IS {'NOT ' if value else ''}NULL)", path
        if op in ("gt", "gte", "lt", "lte"):
            return _compare(field, path, op, value)
        if op == "contains":
            return _contains(field, path, value)
        starts = f"starts_with({field} #>> '{{}}', %s::text)"
        return _typed(field, path, "string", starts, path + [value])

    # --- order and keyset ------------------------------------------------
    def _order(self, ordering):
        """Return ([sort expressions], params) ending with the doc id tie-break."""
        if ordering.field in ("created_at", "updated_at"):
            return [ordering.field, _DOC_ID], []
        if ordering.field == "id":
            return [_DOC_ID], []
        field, path = _field(ordering.path)
        kind = f"jsonb_typeof({field})"
        rank = (
            f"CASE {kind} WHEN 'string' THEN {RANK_STRING} WHEN 'number' THEN "
            f"{RANK_NUMBER} WHEN 'boolean' THEN {RANK_BOOLEAN} WHEN 'array' THEN "
            f"{RANK_ARRAY} WHEN 'object' THEN {RANK_OBJECT} ELSE 0 END"
        )
        number = (
            f"CASE {kind} WHEN 'number' THEN ({field})::numeric WHEN 'boolean' THEN "
            f"CASE WHEN ({field})::boolean THEN 1 ELSE 0 END ELSE 0 END"
        )
        text = f"(CASE WHEN {kind} = 'string' THEN {field} #>> '{{}}' ELSE '' END)"
        params = path * 6  # one copy per use of the field in the three expressions
        return [rank, number, f'{text} COLLATE "C"', _DOC_ID], params

    def _keyset(self, ordering, order, order_params, after):
        key, doc_id = after
        op = "<" if ordering.descending else ">"
        if ordering.field in ("created_at", "updated_at"):
            column, moment = ordering.field, datetime.datetime.fromisoformat(key[0])
            sql = f"({column} {op}= %s AND ({column} {op} %s OR {_DOC_ID} {op} %s))"
            return sql, [moment, moment, doc_id]
        if ordering.field == "id":
            return f"{_DOC_ID} {op} %s", [doc_id]
        rank, number, text = key
        sql = f"({', '.join(order)}) {op} (%s::int, %s::numeric, %s::text, %s::text)"
        return sql, [*order_params, rank, str(number), text, doc_id]


def _field(path):
    """Return (jsonb expression, params) for a data path; arrays are never indexed."""
    return "(data" + " -> %s::text" * len(path) + ")", list(path)


def _is_containable(value):
    return value is not None and not isinstance(value, list | dict)


def _merge_path(target, path, value):
    """Nest ``value`` at ``path`` in ``target``; False if the path collides."""
    for key in path[:-1]:
        target = target.setdefault(key, {})
        if not isinstance(target, dict):
            return False
    if path[-1] in target:
        return False
    target[path[-1]] = value
    return True


def _equals(field, path, value):
    if value is None:
        return f"(COALESCE(jsonb_typeof({field}), 'null') = 'null')", path
    return f"COALESCE({field} = %s::jsonb, false)", path + [encode(value)]


def _one_of(field, path, values):
    present = [encode(v) for v in values if v is not None]
    sql, params = f"COALESCE({field} = ANY(%s::jsonb[]), false)", path + [present]
    if None in values:
        null_sql, null_params = _equals(field, path, None)
        sql, params = f"{sql} OR {null_sql}", params + null_params
    return f"({sql})", params


def _typed(field, path, json_type, test, test_params):
    """A test that runs only when the field has ``json_type`` (false otherwise)."""
    sql = (
        f"(CASE WHEN jsonb_typeof({field}) = '{json_type}' THEN {test} ELSE false END)"
    )
    return sql, path + test_params


_COMPARISONS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


def _compare(field, path, op, value):
    sign = _COMPARISONS[op]
    if isinstance(value, str):
        test = f"({field} #>> '{{}}') COLLATE \"C\" {sign} %s::text"
        return _typed(field, path, "string", test, path + [value])
    test = f"({field})::numeric {sign} %s::numeric"
    return _typed(field, path, "number", test, path + [str(value)])


def _contains(field, path, value):
    in_array = (
        f"EXISTS (SELECT 1 FROM jsonb_array_elements({field}) AS e(v) "
        "WHERE e.v = %s::jsonb)"
    )
    sql = f"CASE jsonb_typeof({field}) WHEN 'array' THEN {in_array}"
    params = path + path + [encode(value)]
    if isinstance(value, str):
        sql += f" WHEN 'string' THEN strpos({field} #>> '{{}}', %s::text) > 0"
        params += path + [value]
    return f"({sql} ELSE false END)", params
