"""ctx.cache on Redis through a django-redis cache alias (pooled, with short timeouts)."""

import hashlib
import os
import re
from functools import lru_cache

from django.core.exceptions import ImproperlyConfigured
from django_redis import get_redis_connection
from redis.exceptions import NoScriptError, RedisError

from .base import BackendUnavailable, CacheBackendBase, StoredEntry, partition_prefix

_GLOB_SPECIAL = re.compile(r"([*?\[\]\\])")
# KEYS: the entry, its partition's index. ARGV: value, TTL in ms, cap.
# Returns 1 when stored, 0 when the partition is full.
CAPPED_SET = """
if redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'XX') then
  redis.call('PEXPIRE', KEYS[2], ARGV[2], 'GT')
  return 1
end
local ttl = tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
for _, member in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)) do
  local left = redis.call('PTTL', member)
  if left > 0 then
    redis.call('ZADD', KEYS[2], now + left, member)
  else
    redis.call('ZREM', KEYS[2], member)
  end
end
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[3])
    and not redis.call('ZSCORE', KEYS[2], KEYS[1]) then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
redis.call('ZADD', KEYS[2], now + ttl, KEYS[1])
if redis.call('PTTL', KEYS[2]) < ttl then
  redis.call('PEXPIRE', KEYS[2], ttl)
end
return 1
"""
_CAPPED_SET_SHA = hashlib.sha1(CAPPED_SET.encode()).hexdigest()


@lru_cache(maxsize=4096)
def index_key(key):
    """Return the key of the index of ``key``'s partition (see CacheBackend)."""
    prefix = partition_prefix(key)
    brace = prefix.index(":{")
    return f"{prefix[:brace]}#index:{prefix[brace + 1 : -1]}"


class CacheBackend(CacheBackendBase):
    """Entries are plain Redis strings set with ``SET key value EX ttl``.

    The raw redis-py client of the django-redis alias is used, not Django's
    cache API, so that the stored bytes are exactly the envelope (no pickling,
    no version segment in keys) and listing can SCAN with a MATCH pattern.

    A capped write is one EVALSHA of :data:`CAPPED_SET` (Redis 7.0 or
    later: ``PEXPIRE … GT``). Each partition has an index beside its entries:
    a sorted set of its entry keys scored by expiry, under
    ``<prefix>#index:{tag}`` (the partition's hash tag, so the same slot;
    outside ``<prefix>:`` so no listing meets it). Replacing a live entry
    costs the script two commands — ``SET … XX`` and keeping the index alive
    as long as the entry; only a new key touches the index, after dropping
    the members whose expiry passed (an entry a replacement kept alive is
    scored again instead). A replacement with a shorter TTL keeps its place
    in the count until its earlier expiry. The console still counts by
    walking the keys, once per page: the index is not read there.
    """

    name = "redis"
    scan_count = 500

    def __init__(self, alias="extcache"):
        self.alias = alias
        self._client = None

    def _capped_set(self, key, value, ttl_ms, cap):
        # EVALSHA straight from the client: redis-py's Script wrapper costs
        # microseconds per call on this hot path.
        client = self.client
        try:
            return client.execute_command(
                "EVALSHA", _CAPPED_SET_SHA, 2, key, index_key(key), value, ttl_ms, cap
            )
        except NoScriptError:  # a restarted or flushed server forgot it
            client.script_load(CAPPED_SET)
            return client.evalsha(
                _CAPPED_SET_SHA, 2, key, index_key(key), value, ttl_ms, cap
            )

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

    def set(self, key, value, ttl_seconds, cap=None):
        try:
            if cap is None:
                self.client.set(key, value, ex=ttl_seconds)
                return True
            stored = self._capped_set(key, value, ttl_seconds * 1000, cap)
        except RedisError as exc:
            raise BackendUnavailable(_describe(exc)) from exc
        return stored == 1

    def delete(self, keys):
        # One MULTI per partition: DEL of its keys (one hash tag, so a single
        # slot on Redis Cluster too) and their removal from its index.
        by_index = {}
        for key in keys:
            by_index.setdefault(index_key(key), []).append(key)
        try:
            pipe = self.client.pipeline(transaction=True)
            for index, members in by_index.items():
                pipe.delete(*members)
                pipe.zrem(index, *members)
            pipe.execute()
        except RedisError as exc:
            raise BackendUnavailable(_describe(exc)) from exc

    def count(self, prefixes, cap):
        # One SCAN under the prefixes' common start (a page of one extension's
        # users) counts them all; SCAN does not return expired keys.
        counts = dict.fromkeys((prefix.encode() for prefix in prefixes), 0)
        pattern = _GLOB_SPECIAL.sub(r"\\\1", os.path.commonprefix(prefixes)) + "*"
        try:
            for key in self.client.scan_iter(match=pattern, count=self.scan_count):
                tag_end = key.find(b"}:", key.find(b"{")) + 2
                if tag_end > 1 and counts.get(key[:tag_end], cap + 1) <= cap:
                    counts[key[:tag_end]] += 1
        except RedisError as exc:
            raise BackendUnavailable(_describe(exc)) from exc
        return [counts[prefix.encode()] for prefix in prefixes]

    def list(self, prefix, limit):
        pattern = _GLOB_SPECIAL.sub(r"\\\1", prefix) + "*"
        try:
            keys = []
            for key in self.client.scan_iter(match=pattern, count=self.scan_count):
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


def _describe(exc):
    # redis-py messages name host and port, never the password.
    return f"{type(exc).__name__}: {exc}"
