"""The store's input rules, checked before any I/O; each error message names its rule."""

import json
import math
import re

from apps.accounts.ids import INVISIBLE

COLLECTION_MAX_CHARS = 128
DOC_ID_MAX_CHARS = 128
LIMIT_MIN = 1
LIMIT_MAX = 1000
FAN_OUT_LIMIT_MAX = 10_000  # list_users page size and query_all limit, as imperal-sdk
# Default byte budget of one page of documents (IMPERAL_STORE_PAGE_MAX_BYTES).
PAGE_MAX_BYTES = 8 * 1024 * 1024
MAX_DEPTH = 100
# SQLite's JSON functions read larger integers as floats, so equality and order
# on them would differ between the two databases.
INT_MIN = -(2**63)
INT_MAX = 2**63 - 1

_FORBIDDEN_IN_COLLECTION = re.compile(f"[:*?\\[\\]/\\s{INVISIBLE}]")
_FORBIDDEN_IN_DOC_ID = re.compile(f"[/\\s{INVISIBLE}]")
_SURROGATE = re.compile("[\ud800-\udfff]")

COLLECTION_RULE = (
    f"collection must be a string of 1-{COLLECTION_MAX_CHARS} characters without "
    ": * ? [ ] / whitespace, control or format characters or lone surrogates"
)
DOC_ID_RULE = (
    f"doc_id must be a string of 1-{DOC_ID_MAX_CHARS} characters without "
    "/ whitespace, control or format characters or lone surrogates"
)


def collection(name):
    """Return ``name`` if it is a valid collection name; raise TypeError/ValueError."""
    if not isinstance(name, str):
        raise TypeError(f"store: {COLLECTION_RULE}, got {type(name).__name__}")
    if not 0 < len(name) <= COLLECTION_MAX_CHARS or _FORBIDDEN_IN_COLLECTION.search(
        name
    ):
        raise ValueError(f"store: {COLLECTION_RULE}, got {name[:140]!r}")
    return name


def doc_id(value):
    """Return ``value`` if it is a valid document id; raise TypeError/ValueError."""
    if not isinstance(value, str):
        raise TypeError(f"store: {DOC_ID_RULE}, got {type(value).__name__}")
    if not 0 < len(value) <= DOC_ID_MAX_CHARS or _FORBIDDEN_IN_DOC_ID.search(value):
        raise ValueError(f"store: {DOC_ID_RULE}, got {value[:140]!r}")
    return value


def split_key(key):
    """Return (collection, doc_id) of ``"collection/doc_id"``; a bare name is both.

    The bare-name reading is imperal-sdk's (``StoreClient._split_path``).
    """
    if not isinstance(key, str):
        raise TypeError(
            f"store: key must be a string 'collection/doc_id', got {type(key).__name__}"
        )
    name, _, rest = key.partition("/")
    return collection(name), doc_id(rest if "/" in key else key)


def limit(value, maximum=LIMIT_MAX, name="limit"):
    """Return ``value`` if it is an int in 1..maximum; raise TypeError/ValueError."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(
            f"store: {name} must be an integer {LIMIT_MIN}-{maximum}, "
            f"got {type(value).__name__}"
        )
    if not LIMIT_MIN <= value <= maximum:
        raise ValueError(f"store: {name} must be {LIMIT_MIN}-{maximum}, got {value}")
    return value


def if_match(value):
    """Return the etag to compare against ('' for none); raise TypeError/ValueError."""
    if not isinstance(value, str):
        raise TypeError(
            f"store: if_match must be an etag string, got {type(value).__name__}"
        )
    _check_string(value, "if_match")
    return value


def json_object(data, name="data"):
    """Return the compact JSON text of ``data``, a JSON object both databases store.

    Raises TypeError for a non-dict or a value that is not JSON, ValueError for
    NaN/Infinity, NUL characters, lone surrogates, integers outside 64 bits or
    nesting deeper than ``MAX_DEPTH``.
    """
    if not isinstance(data, dict):
        raise TypeError(
            f"store: {name} must be a JSON object (dict), got {type(data).__name__}"
        )
    json_value(data, name)
    return encode(data)


def json_value(value, path, depth=0):
    """Check that ``value`` is JSON both databases store; ``path`` names it in errors."""
    if depth > MAX_DEPTH:
        raise ValueError(f"store: {path}: nesting deeper than {MAX_DEPTH} levels")
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, str):
        _check_string(value, path)
    elif isinstance(value, int):
        if not INT_MIN <= value <= INT_MAX:
            raise ValueError(
                f"store: {path}: integers must fit in 64 bits (-2**63..2**63-1)"
            )
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"store: {path}: NaN and Infinity are not JSON numbers")
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(
                    f"store: {path}: JSON object keys must be strings, "
                    f"got {type(key).__name__}"
                )
            _check_string(key, f"{path} key {key[:40]!r}")
            json_value(item, f"{path}.{key[:40]}", depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            json_value(item, f"{path}[{index}]", depth + 1)
    else:
        raise TypeError(
            f"store: {path}: {type(value).__name__} is not a JSON value "
            "(use dict, list, str, int, float, bool or None)"
        )


def check_size(text, max_bytes, name="data"):
    """Raise ValueError when the JSON ``text`` is over the operator's byte cap."""
    if max_bytes and len(text.encode()) > max_bytes:
        raise ValueError(
            f"store: {name} is {len(text.encode())} bytes as JSON; this platform's "
            f"limit (IMPERAL_STORE_MAX_DOC_BYTES) is {max_bytes}"
        )


def encode(value):
    """Return the compact JSON text the store writes for ``value``."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _check_string(text, path):
    if "\x00" in text:
        raise ValueError(f"store: {path}: strings cannot contain NUL (\\u0000)")
    if _SURROGATE.search(text):
        raise ValueError(f"store: {path}: strings cannot contain lone surrogates")
