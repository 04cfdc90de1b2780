"""ctx.db values on the wire between an isolated worker and the gateway, both ways.

Parameters go from the worker to the gateway, rows come back, in one form.
JSON's own values travel as they are: strings, integers, booleans, null,
finite floats, and lists (each item encoded the same way). Every other value
is an object with exactly one key, naming its type:

====================================  ===========================================
Python (psycopg, sqlite3)             wire
====================================  ===========================================
``decimal.Decimal``                   ``{"decimal": "12.50"}`` (``"NaN"`` too)
``float`` NaN / ±infinity             ``{"float": "nan"}``, ``"inf"``, ``"-inf"``
``datetime.datetime``                 ``{"datetime": ISO 8601}`` (offset kept, or none)
``datetime.date``                     ``{"date": "2026-01-31"}``
``datetime.time``                     ``{"time": "12:30:00.000001+02:00"}``
``datetime.timedelta``                ``{"interval": [days, seconds, microseconds]}``
``bytes`` / ``bytearray`` / memory    ``{"bytes": base64}`` (decoded as ``bytes``)
``uuid.UUID``                         ``{"uuid": "…"}``
``dict`` (a json / jsonb value)       ``{"json": the object as it is}``
anything else in a row                ``{"text": str(value)}`` (decoded as ``str``)
====================================  ===========================================

So no object on the wire is ambiguous: a dict is always one of these. A
parameter of a type not listed is refused where it is encoded
(:class:`UnsupportedValue`); ``{"text": …}`` is for rows only. This module
is shared by the worker and the gateway and imports nothing of the platform.
"""

import base64
import binascii
import datetime
import decimal
import math
import uuid

_PLAIN = (str, int, bool, type(None))
_NON_FINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


class UnsupportedValue(TypeError):
    """A value has no wire form (a parameter of an unlisted type)."""


class MalformedValue(ValueError):
    """A wire value is not one :func:`decode` knows; the message names it."""


def encode(value, strict=True):
    """Return the wire form of ``value``.

    With ``strict`` (parameters) an unlisted type raises UnsupportedValue
    naming it; without (rows) it travels as its text.
    """
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"float": str(value)}
    if isinstance(value, list):
        return [encode(item, strict) for item in value]
    if isinstance(value, dict):
        return {"json": value}
    for kind, types, to_wire in _ENCODERS:
        if isinstance(value, types):
            return {kind: to_wire(value)}
    if strict:
        raise UnsupportedValue(f"cannot adapt type {type(value).__name__!r}")
    return {"text": str(value)}


def decode(wire, strict=True):
    """Return the Python value of a wire value.

    With ``strict`` (parameters) ``{"text": …}`` is refused. Raises
    MalformedValue for an object that is not one tagged value.
    """
    if isinstance(wire, _PLAIN) or isinstance(wire, float):
        return wire
    if isinstance(wire, list):
        return [decode(item, strict) for item in wire]
    if not isinstance(wire, dict) or len(wire) != 1:
        raise MalformedValue(
            "a ctx.db value object must have exactly one key naming its type "
            f"({', '.join(_DECODERS)})"
        )
    [(kind, body)] = wire.items()
    decoder = _DECODERS.get(kind)
    if decoder is None or (strict and kind == "text"):
        raise MalformedValue(f"unknown ctx.db value type {kind[:40]!r}")
    try:
        return decoder(body)
    except (TypeError, ValueError, ArithmeticError, binascii.Error) as exc:
        raise MalformedValue(f"bad ctx.db {kind} value: {exc}") from None


def encode_row(row):
    """Return the wire form of one row (a sequence of values)."""
    return [
        value if type(value) in _PLAIN else encode(value, strict=False) for value in row
    ]


def _interval(body):
    days, seconds, microseconds = body
    return datetime.timedelta(days=days, seconds=seconds, microseconds=microseconds)


def _non_finite(body):
    return _NON_FINITE[body.lower()] if body.lower() in _NON_FINITE else float(body)


def _text(body):
    if not isinstance(body, str):
        raise TypeError("expected a string")
    return body


# Most specific first: a datetime is also a date.
_ENCODERS = (
    ("decimal", decimal.Decimal, str),
    ("datetime", datetime.datetime, datetime.datetime.isoformat),
    ("date", datetime.date, datetime.date.isoformat),
    ("time", datetime.time, datetime.time.isoformat),
    (
        "interval",
        datetime.timedelta,
        lambda value: [value.days, value.seconds, value.microseconds],
    ),
    (
        "bytes",
        (bytes, bytearray, memoryview),
        lambda value: base64.b64encode(bytes(value)).decode("ascii"),
    ),
    ("uuid", uuid.UUID, str),
)
_DECODERS = {
    "decimal": lambda body: decimal.Decimal(_text(body)),
    "float": lambda body: _non_finite(_text(body)),
    "datetime": lambda body: datetime.datetime.fromisoformat(_text(body)),
    "date": lambda body: datetime.date.fromisoformat(_text(body)),
    "time": lambda body: datetime.time.fromisoformat(_text(body)),
    "interval": _interval,
    "bytes": lambda body: base64.b64decode(_text(body), validate=True),
    "uuid": lambda body: uuid.UUID(_text(body)),
    "json": lambda body: body if isinstance(body, dict) else _not_an_object(),
    "text": _text,
}


def _not_an_object():
    raise TypeError("expected a JSON object")
