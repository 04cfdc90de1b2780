"""The contract every ctx.cache backend implements, and the one error it may raise.

A backend is a byte store with per-entry TTL: the core derives keys and
encodes values; a backend only stores, expires, lists and counts them. Keys
have the shape ``<prefix>:{<partition>}:<model>:<hash>``: everything up to the
closing brace names the partition (a Redis Cluster hash tag). Each backend
module exports a class named ``CacheBackend``, chosen by dotted module path in
``settings.IMPERAL_CACHE["BACKEND"]`` and built with ``IMPERAL_CACHE["OPTIONS"]``.
"""

from dataclasses import dataclass


class BackendUnavailable(Exception):
    """The backend could not be reached or failed; raised instead of driver errors.

    The core turns it into a miss or a logged no-op: the cache is an
    optimization and never takes a handler down.
    """


@dataclass(frozen=True)
class StoredEntry:
    """One live entry as a listing sees it: seconds left (-1: no expiry), bytes."""

    key: str
    ttl_seconds: int
    size: int


def partition_prefix(key):
    """Return the start of an entry ``key`` every key of its partition shares:
    through the ``:`` after its hash tag."""
    return key[: key.index("}:", key.index("{")) + 2]


class CacheBackendBase:
    """Store bytes under string keys with a TTL the store itself enforces.

    Every method raises BackendUnavailable, and nothing else, when the
    backend fails; keys and values reach it already validated.
    """

    name = None  # subclasses must specify: the label metrics and logs use

    def get(self, key):
        """Return the bytes stored under ``key``, or None if absent or expired."""
        raise NotImplementedError("subclasses of CacheBackendBase must provide get()")

    def set(self, key, value, ttl_seconds, cap=None):
        """Store ``value`` under ``key`` for ``ttl_seconds``, replacing any entry;
        return whether it was stored.

        With ``cap``, a key that holds no live entry is stored only while its
        partition (:func:`partition_prefix`) holds fewer than ``cap`` live
        entries, checked and written atomically; otherwise nothing is written
        and the answer is False. Replacing a live entry is never refused.
        """
        raise NotImplementedError("subclasses of CacheBackendBase must provide set()")

    def delete(self, keys):
        """Remove the entries under each of ``keys``; absent keys are not an error."""
        raise NotImplementedError(
            "subclasses of CacheBackendBase must provide delete()"
        )

    def get_many(self, keys):
        """Return the bytes under each of ``keys`` (None where absent or expired),
        in order, in one round trip (the keys share one partition's hash tag)."""
        raise NotImplementedError(
            "subclasses of CacheBackendBase must provide get_many()"
        )

    def list(self, prefix, limit):
        """Return up to ``limit`` live StoredEntry whose key starts with ``prefix``.

        Must not block the store while listing (an incremental scan, or an
        index range), whatever the size of the keyspace.
        """
        raise NotImplementedError("subclasses of CacheBackendBase must provide list()")

    def count(self, prefixes, cap):
        """Return, for each of ``prefixes`` (each one partition's), how many live
        entries start with it, counting at most ``cap + 1``, in one round trip.

        One pass for all prefixes: a key range (SQLite), one SCAN (Redis).
        """
        raise NotImplementedError("subclasses of CacheBackendBase must provide count()")

    def close(self):
        """Release connections; the backend reconnects on next use."""
