"""ctx.cache: the async face extensions call, over the synchronous CacheCore."""

import inspect

from apps.quotas import limits as quota_limits

from .core import get_core


class CacheFace:
    """imperal-sdk's CacheProtocol bound to one partition and one extension.

    The core runs inline rather than through ``sync_to_async``: an operation
    is one Redis round trip or one SQLite statement (tens of microseconds), a
    thread hop would cost more than the operation, and the backends' short
    timeouts bound the rare slow case. The core never touches the ORM (the
    quota limits it applies are reread here, every few seconds).
    """

    def __init__(self, core, partition, extension):
        self._core = core
        self._partition = partition
        self._extension = extension

    async def get(self, key, model):
        """Return the cached ``model`` instance, or None. See CacheCore.get."""
        return self._core.get(self._partition, self._extension, key, model)

    async def set(self, key, value, ttl_seconds=60):
        """Cache ``value`` for ``ttl_seconds`` (5-300); return None. See CacheCore.set."""
        await _fresh_limits()
        self._core.set(self._partition, self._extension, key, value, ttl_seconds)

    async def delete(self, key):
        """Remove ``key`` under every registered model; return None."""
        self._core.delete(self._partition, self._extension, key)

    async def get_or_fetch(self, key, model, fetcher, ttl_seconds=60):
        """Return the cached instance, else ``await fetcher()``'s, cached when it fits.

        Every argument is checked before the cache is read or the fetcher
        runs; see CacheCore.get_before_fetch and CacheCore.keep_fetched.
        """
        core, partition, ext = self._core, self._partition, self._extension
        cached = core.get_before_fetch(partition, ext, key, model, fetcher, ttl_seconds)
        if cached is not None:
            return cached
        fresh = fetcher()
        if inspect.isawaitable(fresh):
            fresh = await fresh
        await _fresh_limits()
        return core.keep_fetched(partition, ext, key, model, fresh, ttl_seconds)

    def __repr__(self):
        return f"<ctx.cache {self._partition}>"


async def _fresh_limits():
    """Reread the quota limits (the cache.entries cap) when this process's copy
    is stale: one thread hop every few seconds, not per call."""
    if not quota_limits.table.fresh():
        await quota_limits.arefresh()


def cache_for(ctx):
    """Return ctx.cache for a PlatformContext, or None when no backend is configured.

    None makes ``ctx.cache`` raise RuntimeError (I-CACHE-GW-URL-DERIVE).
    """
    core = get_core()
    if core is None:
        return None
    return CacheFace(core, ctx._partition, ctx._extension)
