"""Opaque keyset cursors: the last document's sort key, signed with SECRET_KEY.

A cursor carries the sort-key values of the last document of a page and a
fingerprint of the query (collection, where, order_by); the next page starts
strictly after that key, so concurrent inserts never shift or repeat a page.
"""

import base64
import hashlib
import hmac
import json

from django.utils.crypto import salted_hmac

from . import query, validation
from .errors import InvalidCursor

_SALT = "apps.store.cursor"
_VERSION = 1
_SIGNATURE_BYTES = 16
_INVALID = "store: cursor is not valid (altered, truncated or from another deployment)"


def fingerprint(collection, where, ordering):
    """Return a short digest of the query a cursor belongs to."""
    text = json.dumps(
        [collection, where or {}, ordering.field, ordering.path, ordering.descending],
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def after_document(collection, where, ordering, document):
    """Return the cursor continuing the query (collection, where, an Ordering)
    right after ``document``, one of its results."""
    key = sort_key(document, ordering)
    return encode(fingerprint(collection, where, ordering), key, document.id)


def sort_key(document, ordering):
    """Return the values ``document`` sorts by under ``ordering`` (its id apart)."""
    if ordering.field == "created_at":
        return [document.created_at]
    if ordering.field == "updated_at":
        return [document.updated_at]
    if ordering.field == "id":
        return []
    return query.sort_components(query.lookup(document.data, ordering.path))


def encode(query_fingerprint, key, doc_id):
    """Return the cursor string for a page that ended at (key, doc_id)."""
    payload = _b64(validation.encode([_VERSION, query_fingerprint, key, doc_id]))
    return f"{payload}.{_b64(_signature(payload))}"


def decode(cursor, query_fingerprint):
    """Return (key, doc_id) from ``cursor``; ValueError if forged or for another query."""
    if not isinstance(cursor, str):
        raise TypeError(
            f"store: cursor must be a string from Page.cursor, got {type(cursor).__name__}"
        )
    payload, _, signature = cursor.partition(".")
    # The signature is checked first: only a payload this deployment made is
    # parsed, so a forged one cannot cost a deep or huge json.loads.
    try:
        valid = hmac.compare_digest(_unb64(signature), _signature(payload))
    except ValueError:
        raise InvalidCursor(_INVALID) from None
    if not valid:
        raise InvalidCursor(_INVALID)
    try:
        version, owner, key, doc_id = json.loads(_unb64(payload))
    except (ValueError, TypeError):
        raise InvalidCursor(_INVALID) from None
    if version != _VERSION or not isinstance(key, list):
        raise InvalidCursor(_INVALID)
    if owner != query_fingerprint:
        raise InvalidCursor(
            "store: cursor belongs to another query; keep collection, where and "
            "order_by unchanged while paging"
        )
    return key, doc_id


def _signature(payload):
    mac = salted_hmac(_SALT, payload, algorithm="sha256")
    return mac.digest()[:_SIGNATURE_BYTES]


def _b64(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
