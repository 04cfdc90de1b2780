"""A ctx.cache backend module for tests: wraps a real backend and records every call.

Selected like any backend (``IMPERAL_CACHE["BACKEND"] = "tests.cache.recording"``,
``OPTIONS = {"inner": <an IMPERAL_CACHE dict>}``), so tests can prove that a
refused call reached no backend at all.
"""

from apps.cache.backends.base import CacheBackendBase
from apps.cache.core import load_backend


class CacheBackend(CacheBackendBase):
    """Forwards to ``inner`` and appends (method, first argument) to ``calls``."""

    def __init__(self, inner):
        self.inner = load_backend(inner)
        self.name = self.inner.name
        self.calls = []

    def get(self, key):
        self.calls.append(("get", key))
        return self.inner.get(key)

    def set(self, key, value, ttl_seconds, cap=None):
        self.calls.append(("set", key))
        return self.inner.set(key, value, ttl_seconds, cap)

    def delete(self, keys):
        self.calls.append(("delete", tuple(keys)))
        return self.inner.delete(keys)

    def list(self, prefix, limit):
        self.calls.append(("list", prefix))
        return self.inner.list(prefix, limit)

    def close(self):
        self.inner.close()
