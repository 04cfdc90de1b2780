"""Turn what a handler returns into JSON-ready values (the kernel's rule, no Django)."""

import dataclasses
import datetime
import decimal
import uuid

from pydantic import BaseModel


def to_jsonable(value):
    """Return ``value`` as plain JSON types.

    Handles dicts, lists, pydantic models, imperal-sdk objects with
    ``to_dict()`` (UI nodes, ActionResult), dataclasses (``Document``),
    datetimes (RFC 3339 in UTC, ``Z``), decimals and UUIDs. Raises TypeError
    naming anything else.
    """
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(item) for item in value]
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if callable(getattr(value, "to_dict", None)):
        return to_jsonable(value.to_dict())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(dataclasses.asdict(value))
    if isinstance(value, datetime.datetime):
        return _rfc3339(value)
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, bytes):
        raise TypeError("a handler returned bytes; return text or base64 instead")
    raise TypeError(
        f"cannot serialize a {type(value).__name__} returned by a handler to JSON"
    )


def _rfc3339(moment):
    """apps.common.timestamps.rfc3339: the platform's one timestamp format."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.UTC)
    return moment.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
