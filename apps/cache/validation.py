"""The seed's ctx.cache invariants, checked before any I/O: keys, TTLs, models, size."""

import re

from pydantic import BaseModel

from apps.common.errors import CodedError

KEY_MAX_CHARS = 128
TTL_MIN = 5
TTL_MAX = 300
VALUE_MAX_BYTES = 64 * 1024
_KEY_RE = re.compile(r"[A-Za-z0-9_\-:]+")
_KEY_HASH_RE = re.compile(r"[0-9a-f]{16}")


class PydanticOnlyError(TypeError, ValueError):
    """A value or model that is not Pydantic (I-CACHE-PYDANTIC-ONLY).

    Both a TypeError (what imperal-sdk's CacheClient raises) and a ValueError
    (what the seed documents), so code written against either catches it.
    """


class ValueTooLarge(CodedError, ValueError):
    """A serialized entry over 64 KB (I-CACHE-VALUE-SIZE-CAP-64KB); HTTP 413."""

    code = "payload_too_large"


def validate_key(key):
    """Return None for a valid cache key; raise ValueError naming I-CACHE-KEY-SAFETY."""
    if not isinstance(key, str) or not key:
        raise ValueError(
            f"cache key must be a non-empty string, got {key!r:.80} (I-CACHE-KEY-SAFETY)"
        )
    if len(key) > KEY_MAX_CHARS:
        raise ValueError(
            f"cache key too long: {len(key)} > {KEY_MAX_CHARS} characters "
            "(I-CACHE-KEY-SAFETY)"
        )
    if not _KEY_RE.fullmatch(key):
        raise ValueError(
            f"cache key {key!r} has forbidden characters; allowed: letters, digits, "
            "'_', '-', ':' (I-CACHE-KEY-SAFETY)"
        )


def validate_ttl(ttl_seconds):
    """Return None for an int TTL in [5, 300]; raise ValueError naming I-CACHE-TTL-CAP-300S."""
    if not isinstance(ttl_seconds, int) or isinstance(ttl_seconds, bool):
        raise ValueError(
            f"ttl_seconds must be an int in [{TTL_MIN}, {TTL_MAX}], got "
            f"{type(ttl_seconds).__name__} {ttl_seconds!r:.40} (I-CACHE-TTL-CAP-300S)"
        )
    if not TTL_MIN <= ttl_seconds <= TTL_MAX:
        raise ValueError(
            f"ttl_seconds must be in [{TTL_MIN}, {TTL_MAX}], got {ttl_seconds} "
            "(I-CACHE-TTL-CAP-300S)"
        )


def validate_model_class(model, op):
    """Return None for a Pydantic BaseModel subclass; raise PydanticOnlyError otherwise."""
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise PydanticOnlyError(
            f"cache.{op}: model must be a Pydantic BaseModel subclass, got "
            f"{_describe(model)} (I-CACHE-PYDANTIC-ONLY)"
        )


def validate_value(value, op):
    """Return None for a Pydantic BaseModel instance; raise PydanticOnlyError otherwise."""
    if not isinstance(value, BaseModel):
        raise PydanticOnlyError(
            f"cache.{op}: value must be a Pydantic BaseModel instance, got "
            f"{_describe(value)}; dicts and primitives are not accepted "
            "(I-CACHE-PYDANTIC-ONLY)"
        )


def registered_name(extension, model):
    """Return the name ``model`` is registered under with ``extension.cache_model``.

    Raises ValueError naming I-CACHE-MODEL-REGISTRATION-REQUIRED when the class
    itself (not a subclass, not a look-alike) is not registered.
    """
    name = extension._resolve_cache_model_name(model)
    if name is None:
        raise ValueError(
            f"cache model {model.__name__!r} is not registered with "
            f"{extension.app_id!r}'s ext.cache_model(...); register it at module "
            "level before calling ctx.cache (I-CACHE-MODEL-REGISTRATION-REQUIRED)"
        )
    return name


def registered_class(extension, model_name):
    """Return the class registered as ``model_name``; raise ValueError if there is none."""
    model = extension._cache_models.get(model_name) if model_name else None
    if model is None:
        raise ValueError(
            f"cache model name {model_name!r:.80} is not registered by extension "
            f"{extension.app_id!r} (I-CACHE-MODEL-REGISTRATION-REQUIRED)"
        )
    return model


def validate_size(body):
    """Return None when the request body fits 64 KB; raise ValueTooLarge otherwise."""
    if len(body) > VALUE_MAX_BYTES:
        raise ValueTooLarge(
            f"cache value too large: {len(body)} > {VALUE_MAX_BYTES} bytes, measured "
            "on the compact JSON {envelope, ttl_seconds} (I-CACHE-VALUE-SIZE-CAP-64KB)"
        )


def validate_key_hash(key_hash):
    """Return None for 16 lowercase hex digits (sha256(key)[:16]); raise ValueError."""
    if not isinstance(key_hash, str) or not _KEY_HASH_RE.fullmatch(key_hash):
        raise ValueError(
            f"key hash must be 16 lowercase hex digits (sha256 of the key), "
            f"got {key_hash!r:.40}"
        )


def validate_fetcher(fetcher):
    """Return None for a callable; raise TypeError otherwise."""
    if not callable(fetcher):
        raise TypeError(
            f"cache.get_or_fetch: fetcher must be a callable returning the model "
            f"(or an awaitable of it), got {_describe(fetcher)}"
        )


def _describe(thing):
    if isinstance(thing, type):
        return f"class {thing.__name__}"
    return type(thing).__name__
