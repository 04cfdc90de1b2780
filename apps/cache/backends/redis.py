"""ctx.cache on Redis through a django-redis cache alias (pooled, with short timeouts)."""

import os
import re

from django.core.exceptions import ImproperlyConfigured
from django_redis import get_redis_connection
from redis.exceptions import RedisError

from .base import BackendUnavailable, CacheBackendBase, StoredEntry

_GLOB_SPECIAL = re.compile(r"([*?\[\]\\])")


class CacheBackend(CacheBackendBase):
    """Entries are plain Redis strings set with ``SET key value EX ttl``.

    The raw redis-py client of the django-redis alias is used, not Django's
    cache API, so that the stored bytes are exactly the envelope (no pickling,
    no version segment in keys) and listing can SCAN with a MATCH pattern.

    Writes stay one plain SET: an index of each partition's keys kept beside
    them (a sorted set by expiry, updated by a pipeline or a script) cost
    ctx.cache.set 1.5-2.9x a bare SET in bench/cache, whose gate is 1.5x.
    Counting for the console therefore walks the keys instead, once per page.
    """

    name = "redis"
    scan_count = 500

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
        try:
            self.client.set(key, value, ex=ttl_seconds)
        except RedisError as exc:
            raise BackendUnavailable(_describe(exc)) from exc

    def delete(self, keys):
        # One DEL for all keys: they share the partition's hash tag, so this
        # stays a single-slot command on Redis Cluster too.
        try:
            self.client.delete(*keys)
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
