"""The stored form of a cache entry: imperal-sdk's envelope, and where it lives.

An entry is the compact JSON envelope ``{"model", "version": 1, "data",
"cached_at"}`` exactly as imperal-sdk's CacheClient writes it, stored with the
entry's own TTL under a key derived as the SDK's gateway path is: (app, user,
model name, sha256(key)[:16]), plus the tenant, under the deployment prefix.
"""

import hashlib
import json
import logging
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Generic, TypeVar
from urllib.parse import quote, unquote

from pydantic import BaseModel, ValidationError

from .validation import registered_class, validate_size, validate_ttl

logger = logging.getLogger(__name__)

ENVELOPE_VERSION = 1
ModelT = TypeVar("ModelT")
# What json.dumps(obj, separators=(",", ":")) uses, built once instead of per call.
_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"))
_ENVELOPE_FIELDS = frozenset({"model", "version", "data", "cached_at"})


@lru_cache(maxsize=4096)
def hash_key(key):
    """Return the 16 hex digits imperal-sdk puts in the gateway path for ``key``."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def partition_tag(partition):
    """Return ``{tenant:app:user}``: a Redis Cluster hash tag, so a partition is one slot.

    Each part is percent-encoded, so no id can forge a separator, a brace or a
    glob character, and two partitions never share a tag.
    """
    tenant, app, user = (
        _part(partition.tenant_id),
        _part(partition.app_id),
        _part(partition.user_id),
    )
    return f"{{{tenant}:{app}:{user}}}"


@lru_cache(maxsize=4096)
def partition_prefix(key_prefix, partition):
    """Return the prefix every entry key of ``partition`` starts with."""
    return f"{key_prefix}:{partition_tag(partition)}:"


def entry_key(key_prefix, partition, model_name, key_hash):
    """Return the backend key of one entry."""
    return f"{partition_prefix(key_prefix, partition)}{_part(model_name)}:{key_hash}"


def split_entry_key(prefix, stored_key):
    """Return (model_name, key_hash) of a key listed under a partition ``prefix``."""
    model_part, _, key_hash = stored_key[len(prefix) :].rpartition(":")
    return unquote(model_part), key_hash


@lru_cache(maxsize=4096)
def _part(text):
    return quote(text, safe="")


def encode(model_name, value, ttl_seconds, cached_at):
    """Return the envelope bytes to store for ``value``, after checking the 64 KB cap.

    The cap is measured, as imperal-sdk measures it, on the compact JSON
    ``{"envelope": …, "ttl_seconds": …}`` it would PUT; that body is the
    envelope bytes wrapped, so it is assembled from them, not dumped twice.
    Raises ValueError (I-CACHE-VALUE-SIZE-CAP-64KB) when the body is too large.
    """
    envelope = {
        "model": model_name,
        "version": ENVELOPE_VERSION,
        "data": value.model_dump(mode="json"),
        "cached_at": cached_at.isoformat(),
    }
    stored = _COMPACT_JSON.encode(envelope).encode("utf-8")
    validate_size(request_body(stored, ttl_seconds))
    return stored


def cached_at(stored):
    """Return the ``cached_at`` text of stored envelope bytes ("" if unreadable)."""
    try:
        envelope = json.loads(stored)
    except ValueError:
        return ""
    value = envelope.get("cached_at") if isinstance(envelope, dict) else None
    return value if isinstance(value, str) else ""


def request_body(stored, ttl_seconds):
    """Return the bytes imperal-sdk's CacheClient PUTs for envelope bytes ``stored``."""
    return b'{"envelope":' + stored + b',"ttl_seconds":' + b"%d}" % ttl_seconds


class _Envelope(BaseModel, Generic[ModelT]):
    """The envelope as read back: fields compared as imperal-sdk compares them."""

    model: Any = None
    version: Any = None
    data: ModelT | None = None
    cached_at: Any = None


@lru_cache(maxsize=1024)
def _envelope_of(model):
    return _Envelope[model]


def decode(stored, model, model_name):
    """Return the ``model`` instance held by envelope bytes, or None for a miss.

    Another model's or version's envelope, or one without data, is a miss as
    in imperal-sdk; so is anything that is not such an envelope, or whose data
    no longer validates against the model (its shape changed since it was
    written), which is logged. The bytes are validated as JSON in one pass by
    pydantic rather than parsed and then validated.
    """
    try:
        envelope = _envelope_of(model).model_validate_json(stored)
    except ValidationError as exc:
        logger.warning(
            "ctx.cache: entry of model %r is not a readable %r envelope, read as "
            "a miss (%d errors)",
            model_name,
            model.__name__,
            exc.error_count(),
        )
        return None
    if envelope.model != model_name or envelope.version != ENVELOPE_VERSION:
        return None
    return envelope.data


@dataclass(frozen=True)
class GatewayWrite:
    """A validated gateway PUT: the envelope bytes to store and their TTL."""

    stored: bytes
    ttl_seconds: int


def parse_request_body(extension, model_name, body):
    """Return the GatewayWrite for a PUT body imperal-sdk's CacheClient sent.

    Checks what the SDK checked on its side, since a gateway client may be any
    HTTP client: the 64 KB cap on the body, the TTL range, an envelope of
    ``model_name`` (registered by ``extension``), version 1, whose data
    validates against the registered model. Raises ValueError otherwise.
    """
    validate_size(body)
    model = registered_class(extension, model_name)
    try:
        request = json.loads(body)
    except ValueError:
        raise ValueError("cache PUT body is not JSON") from None
    if not isinstance(request, dict) or not {"envelope", "ttl_seconds"} <= set(request):
        raise ValueError('cache PUT body must be {"envelope": {...}, "ttl_seconds": N}')
    validate_ttl(request["ttl_seconds"])
    envelope = request["envelope"]
    _check_envelope(envelope, model_name)
    try:
        model.model_validate(envelope["data"])
    except ValueError as exc:
        raise ValueError(
            f"cache PUT data does not validate as model {model_name!r}: {exc}"
        ) from None
    stored = _COMPACT_JSON.encode(envelope).encode("utf-8")
    return GatewayWrite(stored, request["ttl_seconds"])


def _check_envelope(envelope, model_name):
    if not isinstance(envelope, dict) or not _ENVELOPE_FIELDS <= set(envelope):
        raise ValueError(
            'cache envelope must be {"model", "version", "data", "cached_at"}'
        )
    if envelope["model"] != model_name:
        raise ValueError(
            f"cache envelope model {envelope['model']!r:.80} does not match the "
            f"path's model {model_name!r}"
        )
    if envelope["version"] != ENVELOPE_VERSION or isinstance(envelope["version"], bool):
        raise ValueError(f"cache envelope version must be {ENVELOPE_VERSION}")
    if not isinstance(envelope["cached_at"], str):
        raise ValueError("cache envelope cached_at must be an ISO-8601 string")
