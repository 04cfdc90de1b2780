"""ctx.cache on Redis through a django-redis cache alias (pooled, with short timeouts)."""

import hashlib
import random
import re
import time

from django.core.exceptions import ImproperlyConfigured
from django_redis import get_redis_connection
from redis.exceptions import NoScriptError, RedisError

from ..validation import TTL_MAX
from .base import BackendUnavailable, CacheBackendBase, StoredEntry

_GLOB_SPECIAL = re.compile(r"([*?\[\]\\])")
INDEX_SUFFIX = b"#entries"
# One command for the entry and its partition's index (a five-command pipeline
# cost ctx.cache.set 2.9x a bare SET in bench/cache). The index outlives every
# entry in it: the core caps TTLs at TTL_MAX. Expired members are trimmed on
# one write in ``trim_every`` (ARGV[4] = "1"); counting skips them anyway. Both
# keys share the partition's hash tag: single-slot on Redis Cluster too.
_SET_INDEXED = f"""
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3] + ARGV[2], KEYS[1])
redis.call('EXPIRE', KEYS[2], {TTL_MAX})
if ARGV[4] == '1' then
    redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[3])
end
"""
# evalsha itself, not redis-py's Script wrapper (which checks and re-encodes).
_SET_INDEXED_SHA = hashlib.sha1(_SET_INDEXED.encode()).hexdigest()


class CacheBackend(CacheBackendBase):
    """Entries are plain Redis strings set with ``SET key value EX ttl``.

    The raw redis-py client of the django-redis alias is used, not Django's
    cache API, so that the stored bytes are exactly the envelope (no pickling,
    no version segment in keys) and listing can SCAN with a MATCH pattern.

    Beside its entries each partition has an index, a sorted set of its keys
    scored by expiry time, under ``<prefix>:{<partition>}#entries`` (same hash
    tag, so the same Cluster slot; outside the partition's key prefix, so
    never listed as an entry). Writes and deletes update it in the same round
    trip, and counting a partition is one ZCOUNT, not a walk of the keyspace.
    """

    name = "redis"
    scan_count = 500
    clock = staticmethod(time.time)
    trim_every = 16

    def __init__(self, alias="extcache"):
        self.alias = alias
        self._client = None

    @property
    def client(self):
        """The alias's redis-py client; its connection pool is shared per process."""
        if self._client is None:
            try:
                self._client = get_redis_connection(self.alias, write=True)
            except NotImplementedError:
                raise ImproperlyConfigured(
                    f"IMPERAL_CACHE['OPTIONS']['alias'] = {self.alias!r} must name a "
                    "django_redis.cache.RedisCache entry of CACHES"
                ) from None
        return self._client

    def get(self, key):
        try:
            return self.client.get(key)
        except RedisError as exc:
            raise BackendUnavailable(_describe(exc)) from exc

    def get_many(self, keys):
        try:
            return self.client.mget(keys) if keys else []
        except RedisError as exc:
            raise BackendUnavailable(_describe(exc)) from exc

    def set(self, key, value, ttl_seconds):
        now = self.clock()
        try:
            args = (value, ttl_seconds, now, self._trim())
            try:
                self.client.evalsha(_SET_INDEXED_SHA, 2, key, index_key(key), *args)
            except NoScriptError:  # a restarted or flushed server: load it again
                self.client.script_load(_SET_INDEXED)
                self.client.evalsha(_SET_INDEXED_SHA, 2, key, index_key(key), *args)
        except RedisError as exc:
            raise BackendUnavailable(_describe(exc)) from exc

    def _trim(self):
        return "1" if random.randrange(self.trim_every) == 0 else "0"

    def delete(self, keys):
        # One DEL for all keys: they share the partition's hash tag, so this
        # stays a single-slot command on Redis Cluster too.
        by_index = {}
        for key in keys:
            by_index.setdefault(index_key(key), []).append(key)
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.delete(*keys)
            for index, members in by_index.items():
                pipe.zrem(index, *members)
            pipe.execute()
        except RedisError as exc:
            raise BackendUnavailable(_describe(exc)) from exc

    def count(self, prefixes, cap):
        now = self.clock()
        try:
            pipe = self.client.pipeline(transaction=False)
            for prefix in prefixes:
                pipe.zcount(index_key(prefix), f"({now}", "+inf")
            return [min(count, cap + 1) for count in pipe.execute()]
        except RedisError as exc:
            raise BackendUnavailable(_describe(exc)) from exc

    def list(self, prefix, limit):
        pattern = _GLOB_SPECIAL.sub(r"\\\1", prefix) + "*"
        try:
            keys = []
            for key in self.client.scan_iter(match=pattern, count=self.scan_count):
                if key.endswith(INDEX_SUFFIX):  # a listing wider than a partition
                    continue
                keys.append(key)
                if len(keys) >= limit:
                    break
            return self._describe_keys(keys)
        except RedisError as exc:
            raise BackendUnavailable(_describe(exc)) from exc

    def _describe_keys(self, keys):
        pipe = self.client.pipeline(transaction=False)
        for key in keys:
            pipe.ttl(key)
            pipe.strlen(key)
        replies = pipe.execute()
        entries = []
        for index, key in enumerate(keys):
            ttl, size = replies[2 * index], replies[2 * index + 1]
            if ttl != -2:  # -2: expired since the scan saw it
                entries.append(StoredEntry(key.decode(), ttl, size))
        return sorted(entries, key=lambda entry: entry.key)

    def close(self):
        if self._client is not None:
            self._client.connection_pool.disconnect()


def index_key(key):
    """Return the key of the index of the partition ``key`` (or a prefix) is in."""
    return key[: key.index("}") + 1] + INDEX_SUFFIX.decode()


def _describe(exc):
    # redis-py messages name host and port, never the password.
    return f"{type(exc).__name__}: {exc}"
