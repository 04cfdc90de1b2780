"""The documents list's filter: the JSON ``where`` box and the field / operator /
value row, turned into the one ``where`` ctx.store.query takes.

The row is a shortcut for one test: it builds exactly what the box would hold
(``{"status": "open"}``, ``{"n": {"$gt": 5}}``), so the page shows the combined
``where`` in the box after a search. Errors name the rule and the value; the
store's own rules (fields, operators, caps) are checked by the store.
"""

import json

from apps.store import query

WHERE_MAX_CHARS = 16 * 1024
VALUE_MAX_CHARS = 4096
EQUALS = "="
# (operator, words): the store's operators, plain equality first.
OPERATORS = (
    (EQUALS, "equals"),
    ("$ne", "is not"),
    ("$gt", "greater than"),
    ("$gte", "at least"),
    ("$lt", "less than"),
    ("$lte", "at most"),
    ("$in", "is one of"),
    ("$nin", "is none of"),
    ("$contains", "contains"),
    ("$startswith", "starts with"),
    ("$exists", "exists"),
)
_KNOWN = {op for op, _ in OPERATORS}
_BOOLEANS = {"": True, "true": True, "yes": True, "false": False, "no": False}


def parse_where(text):
    """Return the ``where`` a JSON text holds (None when empty).

    Raises ValueError naming the rule for text over WHERE_MAX_CHARS or not
    JSON; the store checks what the JSON says.
    """
    text = text.strip()
    if not text:
        return None
    if len(text) > WHERE_MAX_CHARS:
        raise ValueError(f"where must be at most {WHERE_MAX_CHARS} characters")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f'where must be a JSON object such as {{"status": "open"}} ({exc})'
        ) from None


def combined_where(text, field, op, value):
    """Return the ``where`` of the box's ``text`` with the row's test added (None
    when both are empty).

    Raises ValueError naming the rule: a row value without a field, an unknown
    operator, a bad field name (the store's rule), a value the operator cannot
    take, a field the box already tests.
    """
    where = parse_where(text)
    test = row_test(field, op, value)
    if test is None:
        return where
    if where is None:
        where = {}
    if not isinstance(where, dict):
        raise ValueError("filter row: the where box must hold a JSON object to add to")
    name, condition = test
    if name in where:
        raise ValueError(
            f"filter row: the where box already tests {name!r}; change that test "
            "there or empty the row"
        )
    return {**where, name: condition}


def row_test(field, op, value):
    """Return (field, condition) of the filter row, or None when it is empty."""
    field, value = field.strip(), value.strip()
    op = op or EQUALS
    if not field:
        if value:
            raise ValueError(
                f"filter row: name the field to test against {value[:40]!r}"
            )
        return None
    query.parse_field(field, "filter row field")
    if op not in _KNOWN:
        raise ValueError(
            f"filter row: operator must be one of {', '.join(sorted(_KNOWN))}, "
            f"got {op[:20]!r}"
        )
    if len(value) > VALUE_MAX_CHARS:
        raise ValueError(
            f"filter row: value must be at most {VALUE_MAX_CHARS} characters"
        )
    parsed = _value(op, value)
    return field, (parsed if op == EQUALS else {op: parsed})


def _value(op, text):
    """Return the row's value for ``op``: JSON when it parses, else the text."""
    if op == "$exists":
        if text.lower() not in _BOOLEANS:
            raise ValueError(
                f"filter row: $exists takes true or false, got {text[:40]!r}"
            )
        return _BOOLEANS[text.lower()]
    if op in ("$in", "$nin"):
        if text.startswith("["):
            values = _json(text)
            if not isinstance(values, list):
                raise ValueError(f"filter row: {op} takes a JSON list or a, b, c")
            return values
        return [_scalar(item.strip()) for item in text.split(",") if item.strip()]
    return _scalar(text)


def _scalar(text):
    """Return ``text`` read as JSON (5, true, null, "5") or, if it is not JSON, itself."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _json(text):
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"filter row: the value is not JSON ({exc})") from None
