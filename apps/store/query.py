"""``where`` and ``order_by``: parsed and validated into plain values the backends compile.

Semantics (the same on every database):

- equality is JSON equality: ``True`` never equals ``1``, numbers compare by value
  (``1 == 1.0``), arrays and objects compare element by element; ``None`` matches
  a JSON null or a missing key (as imperal-sdk's MockStore);
- a key with dots is a path into nested objects (``"address.city"``); a path
  never indexes into arrays;
- operators: ``$gt $gte $lt $lte`` (numbers with numbers, strings with strings by
  code point; other types never match), ``$ne``, ``$in``, ``$nin``, ``$exists``,
  ``$contains`` (an array holding the value, or a string holding the substring),
  ``$startswith``;
- order: ``field`` / ``-field`` over ``created_at``, ``updated_at``, ``id`` or a
  data path, ties broken by document id in the same direction. Values of mixed
  types sort null/missing < strings < numbers < booleans < arrays < objects;
  strings by code point, arrays and objects tie among themselves.

Caps (settings read at each call, each checked before the work it bounds; a
violation is a ValueError naming the cap and its setting): top-level keys of a
where (IMPERAL_STORE_WHERE_MAX_KEYS, 16), conditions in all, each operator
counting one (IMPERAL_STORE_WHERE_MAX_CONDITIONS, 32), $in/$nin values in all
(IMPERAL_STORE_WHERE_MAX_IN_VALUES, 500) and keys in one dotted field of a where
or order_by (IMPERAL_STORE_FIELD_MAX_DEPTH, 8).
"""

import re
from dataclasses import dataclass

from django.conf import settings

from . import validation
from .errors import StoreError

OPERATORS = {
    "$gt": "gt",
    "$gte": "gte",
    "$lt": "lt",
    "$lte": "lte",
    "$ne": "ne",
    "$in": "in",
    "$nin": "nin",
    "$exists": "exists",
    "$contains": "contains",
    "$startswith": "startswith",
}
COLUMN_SORTS = ("created_at", "updated_at", "id")
FIELD_MAX_CHARS = 128
FIELD_RULE = (
    "fields are dot-separated keys of 1-128 characters without quotes, "
    "backslashes, control or format characters or lone surrogates"
)
_FORBIDDEN_IN_FIELD = re.compile(f'["\\\\{validation.INVISIBLE}]')
_SCALARS = (str, int, float, bool, type(None))

# Operator caps on one where (and order_by path), read from settings at call
# time; each is checked before the work it bounds.
CAPS = {
    "keys": ("IMPERAL_STORE_WHERE_MAX_KEYS", 16),
    "conditions": ("IMPERAL_STORE_WHERE_MAX_CONDITIONS", 32),
    "in_values": ("IMPERAL_STORE_WHERE_MAX_IN_VALUES", 500),
    "depth": ("IMPERAL_STORE_FIELD_MAX_DEPTH", 8),
}


class QueryTooLarge(StoreError, ValueError):
    """The database refused a statement as over its own limits (a caller's mistake).

    The caps above keep a where from reaching them; this is what remains.
    """


# Sort ranks of JSON types (see the module docstring).
RANK_NULL, RANK_STRING, RANK_NUMBER, RANK_BOOLEAN, RANK_ARRAY, RANK_OBJECT = range(6)
MISSING = object()


@dataclass(frozen=True, slots=True)
class Condition:
    """One test on one data path: ``op`` is a key of OPERATORS' values, or ``eq``."""

    path: tuple
    op: str
    value: object


@dataclass(frozen=True, slots=True)
class Ordering:
    """``field`` is ``created_at``, ``updated_at``, ``id`` or ``None`` for ``path``."""

    field: str | None
    path: tuple
    descending: bool


DEFAULT_ORDERING = Ordering("created_at", (), False)


def cap(name):
    """Return the current value of one of CAPS: its setting, else its default."""
    setting, default = CAPS[name]
    return getattr(settings, setting, default)


def parse_where(where):
    """Return the tuple of Conditions ``where`` asks for; raise TypeError/ValueError.

    ValueError names the cap (and its setting) when ``where`` has too many keys,
    conditions or $in/$nin values, or a field too deep a path; each cap is
    checked before the work it bounds.
    """
    if where is None:
        return ()
    if not isinstance(where, dict):
        raise TypeError(
            f"store: where must be a dict of field -> value, got {type(where).__name__}"
        )
    limits = _Limits()
    if len(where) > limits.keys:
        raise _over("keys", f"where has {len(where)} keys", limits.keys)
    conditions = []
    for field, value in where.items():
        path = parse_field(field, "where", limits.depth)
        conditions.extend(_conditions(path, field, value, limits))
    return tuple(conditions)


def parse_order_by(order_by):
    """Return the Ordering ``order_by`` names (default: created_at ascending)."""
    if order_by is None or order_by == "":
        return DEFAULT_ORDERING
    if not isinstance(order_by, str):
        raise TypeError(
            f"store: order_by must be a string 'field' or '-field', "
            f"got {type(order_by).__name__}"
        )
    descending = order_by.startswith("-")
    field = order_by[1:] if descending else order_by
    if field in COLUMN_SORTS:
        return Ordering(field, (), descending)
    return Ordering(None, parse_field(field, "order_by"), descending)


def parse_field(field, what, max_depth=None):
    """Return the path tuple of a dotted field name; raise TypeError/ValueError.

    ``max_depth`` (default: the IMPERAL_STORE_FIELD_MAX_DEPTH cap) bounds the
    number of keys, checked before the field is split.
    """
    if not isinstance(field, str):
        raise TypeError(f"store: {what} {FIELD_RULE}, got {type(field).__name__}")
    max_depth = cap("depth") if max_depth is None else max_depth
    depth = field.count(".") + 1
    if depth > max_depth:
        raise _over("depth", f"{what} field {field[:60]!r} has {depth} keys", max_depth)
    path = tuple(field.split("."))
    for key in path:
        if not key or len(key) > FIELD_MAX_CHARS or _FORBIDDEN_IN_FIELD.search(key):
            raise ValueError(f"store: {what} {FIELD_RULE}, got {field[:140]!r}")
    return path


def lookup(data, path):
    """Return the value at ``path`` in ``data``, or MISSING."""
    value = data
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return MISSING
        value = value[key]
    return value


def sort_components(value):
    """Return [rank, number, string] ordering a data value (MISSING sorts as null)."""
    if value is MISSING or value is None:
        return [RANK_NULL, 0, ""]
    if isinstance(value, str):
        return [RANK_STRING, 0, value]
    if isinstance(value, bool):
        return [RANK_BOOLEAN, int(value), ""]
    if isinstance(value, int | float):
        return [RANK_NUMBER, value, ""]
    return [RANK_ARRAY if isinstance(value, list) else RANK_OBJECT, 0, ""]


def json_equal(a, b):
    """Return whether two JSON values are equal by the store's rules."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(map(json_equal, a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


class _Limits:
    """The caps of one where, read once, and the conditions and values it used."""

    def __init__(self):
        self.keys = cap("keys")
        self.conditions = cap("conditions")
        self.in_values = cap("in_values")
        self.depth = cap("depth")
        self.conditions_used = 0
        self.in_values_used = 0

    def use_conditions(self, count):
        self.conditions_used += count
        if self.conditions_used > self.conditions:
            raise _over(
                "conditions",
                f"where has more than {self.conditions} conditions",
                self.conditions,
            )

    def use_in_values(self, count, where):
        self.in_values_used += count
        if self.in_values_used > self.in_values:
            raise _over(
                "in_values",
                f"{where} brings the $in/$nin values of this where to "
                f"{self.in_values_used}",
                self.in_values,
            )


def _over(name, what, limit):
    return ValueError(f"store: {what}; the limit is {limit} ({CAPS[name][0]})")


def _is_operator(key):
    return isinstance(key, str) and key.startswith("$")


def _conditions(path, field, value, limits):
    if isinstance(value, dict) and value and any(map(_is_operator, value)):
        limits.use_conditions(len(value))
        if not all(map(_is_operator, value)):
            raise ValueError(
                f"store: where {field!r} mixes $operators and plain keys; "
                "use one or the other"
            )
        return [_operator(path, field, op, arg, limits) for op, arg in value.items()]
    limits.use_conditions(1)
    validation.json_value(value, f"where {field!r}")
    return [Condition(path, "eq", value)]


def _operator(path, field, op, arg, limits):
    name = OPERATORS.get(op)
    if name is None:
        raise ValueError(
            f"store: unknown operator {op!r} in where {field!r}; "
            f"supported: {', '.join(OPERATORS)}"
        )
    where = f"where {field!r} {op}"
    if name in ("gt", "gte", "lt", "lte"):
        if isinstance(arg, bool) or not isinstance(arg, int | float | str):
            raise TypeError(f"store: {where} takes a number or a string")
    elif name in ("in", "nin"):
        if not isinstance(arg, list):
            raise TypeError(f"store: {where} takes a list of values")
        limits.use_in_values(len(arg), where)
    elif name == "exists" and not isinstance(arg, bool):
        raise TypeError(f"store: {where} takes true or false")
    elif name == "contains" and not isinstance(arg, _SCALARS):
        raise TypeError(f"store: {where} takes a string, number, boolean or null")
    elif name == "startswith" and not isinstance(arg, str):
        raise TypeError(f"store: {where} takes a string")
    validation.json_value(arg, where)
    return Condition(path, name, arg)
