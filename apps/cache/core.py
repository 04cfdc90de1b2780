"""ctx.cache's one synchronous core: the invariants, entries and outages, over a backend.

The async ``ctx.cache`` face (``face.py``) and the gateway route
``GET|PUT|DELETE /v1/internal/extcache/{app}/{user}/{model}/{key_hash}`` are
thin layers over :class:`CacheCore`; an entry written through one is read
through the other. Every caller mistake raises before any backend call; a
backend failure never raises: reads miss, writes are skipped, both logged and
counted on ``imperal_cache_backend_errors_total``. Reads are counted as hits or
misses (``imperal_cache_reads_total``); every backend call is spanned when
tracing is on.
"""

import datetime
import logging
import re
import threading
import time
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from prometheus_client import Counter

from apps.common.backends import backend_class
from apps.common.telemetry import metrics, tracing
from apps.quotas import limits as quota_limits
from apps.quotas.errors import QuotaExceeded

from . import entries
from .backends.base import BackendUnavailable
from .validation import (
    PydanticOnlyError,
    registered_class,
    registered_name,
    validate_fetcher,
    validate_key,
    validate_key_hash,
    validate_model_class,
    validate_ttl,
    validate_value,
)

logger = logging.getLogger(__name__)

BACKEND_ERRORS = Counter(
    "imperal_cache_backend_errors_total",
    "ctx.cache backend failures, each served as a miss or a skipped write.",
    ["op", "backend"],
)
_KEY_PREFIX_RE = re.compile(r"[A-Za-z0-9_.\-:]{1,100}")
# Live entries one partition may hold (IMPERAL_CACHE_MAX_ENTRIES): at the
# 64 KB cap, 32 MB of one user's data in one extension. The quota
# ``cache.entries`` (apps.quotas), where set, replaces it for its partitions.
DEFAULT_MAX_ENTRIES = 500
ENTRIES_KIND = "cache.entries"


class CacheFull(QuotaExceeded, ValueError):
    """A new key for a partition holding the most live entries allowed (its
    ``cache.entries`` quota, else IMPERAL_CACHE_MAX_ENTRIES); raised even though
    outages are swallowed, nothing was written. Also a ValueError."""

    def __init__(self, partition, cap, rule):
        super().__init__(ENTRIES_KIND, cap, cap, 1, app_id=partition.app_id)
        self.message = (
            f"cache.set: partition {partition.app_id}/{partition.user_id} holds "
            f"{cap} live entries, the most allowed ({rule}); a new key is refused "
            "until one expires or is deleted (replacing an existing key still works)"
        )
        self.args = (self.message,)


@dataclass(frozen=True)
class EntryInfo:
    """One entry of a partition, for the operator's cache inspector."""

    model: str
    key_hash: str
    ttl_seconds: int
    size: int


@dataclass(frozen=True)
class EntryView(EntryInfo):
    """An entry with when it was cached (the envelope's ``cached_at``; "" if the
    stored bytes are not an envelope)."""

    cached_at: str


class CacheCore:
    """Every ctx.cache rule, over one backend and one deployment key prefix."""

    list_limit = 1000
    #: Seconds between outage warnings; the counter still sees every failure.
    outage_log_interval = 60.0
    monotonic = staticmethod(time.monotonic)

    def __init__(self, backend, key_prefix, max_entries=DEFAULT_MAX_ENTRIES):
        if not isinstance(key_prefix, str) or not _KEY_PREFIX_RE.fullmatch(key_prefix):
            raise ImproperlyConfigured(
                f"IMPERAL_CACHE['KEY_PREFIX'] must be 1-100 of [A-Za-z0-9_.-:], "
                f"got {key_prefix!r}"
            )
        if isinstance(max_entries, bool) or not isinstance(max_entries, int):
            raise ImproperlyConfigured(
                f"IMPERAL_CACHE_MAX_ENTRIES must be a positive integer, got "
                f"{max_entries!r:.40}"
            )
        if max_entries < 1:
            raise ImproperlyConfigured(
                f"IMPERAL_CACHE_MAX_ENTRIES must be a positive integer, got "
                f"{max_entries}"
            )
        self.backend = backend
        self.key_prefix = key_prefix
        self.max_entries = max_entries
        self._outage_lock = threading.Lock()
        self._outage_logged_at = None
        self._outage_unlogged = 0

    @staticmethod
    def clock():
        """Return the aware UTC time written as an envelope's ``cached_at``."""
        return datetime.datetime.now(datetime.UTC)

    # ---- what ctx.cache does --------------------------------------------

    def get(self, partition, extension, key, model):
        """Return the cached ``model`` instance, or None (miss, stale shape, outage).

        Raises ValueError for a bad key or an unregistered model and
        PydanticOnlyError for a non-Pydantic ``model``, before any I/O.
        """
        model_name = self._check_read(extension, key, model, "get")
        return self._read(partition, model, model_name, entries.hash_key(key))

    def set(self, partition, extension, key, value, ttl_seconds=60):
        """Store ``value`` under ``key`` for ``ttl_seconds``; return None.

        Raises ValueError (key, TTL, registration, 64 KB cap) or
        PydanticOnlyError before any I/O; CacheFull (a ValueError, nothing
        written) for a new key in a partition holding ``max_entries`` live
        entries. An outage makes it a logged no-op.
        """
        validate_key(key)
        validate_ttl(ttl_seconds)
        validate_value(value, "set")
        model_name = registered_name(extension, type(value))
        self._write(partition, model_name, key, value, ttl_seconds)

    def delete(self, partition, extension, key):
        """Remove ``key`` under every model ``extension`` registered; return None.

        Raises ValueError for a bad key. An outage makes it a logged no-op.
        """
        validate_key(key)
        key_hash = entries.hash_key(key)
        keys = [
            entries.entry_key(self.key_prefix, partition, name, key_hash)
            for name in extension._cache_models
        ]
        if keys:
            self._call("delete", partition, self.backend.delete, keys)

    def get_before_fetch(self, partition, extension, key, model, fetcher, ttl_seconds):
        """Check every argument of get_or_fetch; return the cached instance or None.

        Raises as :meth:`get` does, ValueError for a bad TTL and TypeError for
        a fetcher that is not callable, before any I/O and before fetching.
        """
        model_name = self._check_read(extension, key, model, "get_or_fetch")
        validate_ttl(ttl_seconds)
        validate_fetcher(fetcher)
        return self._read(partition, model, model_name, entries.hash_key(key))

    def keep_fetched(self, partition, extension, key, model, fresh, ttl_seconds):
        """Store what a get_or_fetch fetcher returned, if the cap allows; return it.

        Raises PydanticOnlyError when ``fresh`` is not a ``model`` instance. A
        value over the 64 KB cap is logged and served uncached: the fetched
        value is the answer, the write only an optimization.
        """
        if not isinstance(fresh, model):
            raise PydanticOnlyError(
                f"cache.get_or_fetch: fetcher returned {type(fresh).__name__}, "
                f"expected {model.__name__} (I-CACHE-PYDANTIC-ONLY)"
            )
        model_name = registered_name(extension, model)
        try:
            self._write(partition, model_name, key, fresh, ttl_seconds)
        except ValueError as exc:
            logger.warning(
                "ctx.cache.get_or_fetch in %s: write of key %r skipped, serving the "
                "fetched value uncached: %s",
                partition.app_id,
                key,
                exc,
            )
        return fresh

    # ---- what the gateway route does --------------------------------------

    def get_entry(self, partition, extension, model_name, key_hash):
        """Return the stored envelope bytes (the GET body), or None (404).

        Raises ValueError for an unregistered model name or a malformed hash.
        """
        registered_class(extension, model_name)
        validate_key_hash(key_hash)
        key = entries.entry_key(self.key_prefix, partition, model_name, key_hash)
        stored = self._call("get", partition, self.backend.get, key)
        metrics.cache_read(partition.app_id, stored is not None)
        return stored

    def put_entry(self, partition, extension, model_name, key_hash, body):
        """Store a PUT body imperal-sdk's CacheClient sent; return None.

        Raises ValueError when the body breaks a rule (see
        :func:`entries.parse_request_body`) and CacheFull as :meth:`set`; an
        outage is a logged no-op.
        """
        validate_key_hash(key_hash)
        write = entries.parse_request_body(extension, model_name, body)
        key = entries.entry_key(self.key_prefix, partition, model_name, key_hash)
        self._store(partition, key, write.stored, write.ttl_seconds)

    def delete_entry(self, partition, extension, model_name, key_hash):
        """Remove one entry (idempotent); return None. Raises ValueError as get_entry."""
        registered_class(extension, model_name)
        validate_key_hash(key_hash)
        key = entries.entry_key(self.key_prefix, partition, model_name, key_hash)
        self._call("delete", partition, self.backend.delete, [key])

    # ---- what the operator sees -------------------------------------------

    def list_entries(self, partition, limit=None):
        """Return up to ``limit`` live EntryInfo of one partition, by model and hash.

        Uses the backend's incremental listing (SCAN with a MATCH pattern on
        Redis), never a blocking scan of the keyspace. Returns [] on an outage.
        """
        prefix = entries.partition_prefix(self.key_prefix, partition)
        listed = self._call(
            "list", partition, self.backend.list, prefix, limit or self.list_limit
        )
        infos = []
        for stored in listed or []:
            model_name, key_hash = entries.split_entry_key(prefix, stored.key)
            infos.append(
                EntryInfo(model_name, key_hash, stored.ttl_seconds, stored.size)
            )
        return infos

    def inspect_entries(self, partition, limit=None):
        """Return up to ``limit`` live EntryView of one partition (by model and
        hash), each with when it was cached, read from the stored envelopes in
        one round trip. Returns [] on an outage.
        """
        prefix = entries.partition_prefix(self.key_prefix, partition)
        listed = self._call(
            "list", partition, self.backend.list, prefix, limit or self.list_limit
        )
        if not listed:
            return []
        keys = [stored.key for stored in listed]
        bodies = self._call("get", partition, self.backend.get_many, keys) or []
        views = []
        for stored, body in zip(listed, bodies, strict=False):
            if body is None:  # expired between the listing and the read
                continue
            model_name, key_hash = entries.split_entry_key(prefix, stored.key)
            views.append(
                EntryView(
                    model_name,
                    key_hash,
                    stored.ttl_seconds,
                    stored.size,
                    entries.cached_at(body),
                )
            )
        return views

    def count_entries(self, partitions, cap):
        """Return, for each of ``partitions``, ``(entries, truncated)``: how many
        live entries it holds, counting at most ``cap`` (one round trip for all,
        no walk of the keyspace); each ``(None, False)`` on an outage."""
        if not partitions:
            return []
        prefixes = [entries.partition_prefix(self.key_prefix, p) for p in partitions]
        counts = self._call("count", partitions[0], self.backend.count, prefixes, cap)
        if counts is None:
            return [(None, False)] * len(partitions)
        return [(min(count, cap), count > cap) for count in counts]

    def remove_entry(self, partition, model_name, key_hash):
        """Delete one entry an operator saw listed (its model need not be
        registered any more); return None. Raises ValueError for a malformed
        hash or model name; an outage is a logged no-op."""
        validate_key_hash(key_hash)
        if not isinstance(model_name, str) or not 0 < len(model_name) <= 128:
            raise ValueError(
                f"cache model name must be 1-128 characters, got {model_name!r:.40}"
            )
        key = entries.entry_key(self.key_prefix, partition, model_name, key_hash)
        self._call("delete", partition, self.backend.delete, [key])

    # ---- helpers ------------------------------------------------------------

    def _check_read(self, extension, key, model, op):
        validate_key(key)
        validate_model_class(model, op)
        return registered_name(extension, model)

    def _read(self, partition, model, model_name, key_hash):
        key = entries.entry_key(self.key_prefix, partition, model_name, key_hash)
        stored = self._call("get", partition, self.backend.get, key)
        value = None if stored is None else entries.decode(stored, model, model_name)
        metrics.cache_read(partition.app_id, value is not None)
        return value

    def _write(self, partition, model_name, key, value, ttl_seconds):
        stored = entries.encode(model_name, value, ttl_seconds, self.clock())
        backend_key = entries.entry_key(
            self.key_prefix, partition, model_name, entries.hash_key(key)
        )
        self._store(partition, backend_key, stored, ttl_seconds)

    def entry_cap(self, partition):
        """Return (live entries ``partition`` may hold, the rule that says so).

        The partition's ``cache.entries`` quota from the limits this process
        holds (no I/O: faces refresh them, see apps.quotas.limits), else
        IMPERAL_CACHE_MAX_ENTRIES.
        """
        limit = quota_limits.held_limit(partition, ENTRIES_KIND)
        if limit is None:
            return self.max_entries, "IMPERAL_CACHE_MAX_ENTRIES"
        return limit, f"quota {ENTRIES_KIND}"

    def _store(self, partition, backend_key, stored, ttl_seconds):
        """Write one entry under the partition's cap; raise CacheFull if refused."""
        cap, rule = self.entry_cap(partition)
        written = self._call(
            "set", partition, self.backend.set, backend_key, stored, ttl_seconds, cap
        )
        if written is False:
            raise CacheFull(partition, cap, rule)

    def _call(self, op, partition, method, *args):
        """Return ``method(*args)``, or None when the backend is unavailable."""
        span = tracing.span(f"cache.{op}", **{"imperal.cache.op": op})
        try:
            result = method(*args)
        except BackendUnavailable as exc:
            span.end(exc)
            BACKEND_ERRORS.labels(op=op, backend=self.backend.name).inc()
            self._log_outage(op, partition, exc)
            return None
        except BaseException as exc:
            span.end(exc)
            raise
        span.end()
        return result

    def _log_outage(self, op, partition, exc):
        # An outage fails every call; one line per interval keeps the log readable.
        now = self.monotonic()
        with self._outage_lock:
            last = self._outage_logged_at
            if last is not None and now - last < self.outage_log_interval:
                self._outage_unlogged += 1
                return
            unlogged, self._outage_unlogged = self._outage_unlogged, 0
            self._outage_logged_at = now
        logger.warning(
            "ctx.cache %s for %s skipped: %s backend unavailable (%s)%s",
            op,
            partition.app_id,
            self.backend.name,
            exc,
            f"; {unlogged} more calls skipped since the last report"
            if unlogged
            else "",
        )

    # ---- what a user's or operator's erase does -------------------------------

    def erase_partition(self, partition, max_rounds=1000):
        """Delete every entry of one partition; return (entries deleted, complete).

        Lists and deletes ``list_limit`` entries at a time (an incremental
        listing, as :meth:`list_entries`) until none is left. ``complete`` is
        False when the backend is unavailable or ``max_rounds`` passed with
        entries still arriving: the caller must say the erase did not finish.
        """
        prefix = entries.partition_prefix(self.key_prefix, partition)
        deleted = 0
        for _ in range(max_rounds):
            try:
                listed = self.backend.list(prefix, self.list_limit)
                if not listed:
                    return deleted, True
                self.backend.delete([stored.key for stored in listed])
            except BackendUnavailable as exc:
                BACKEND_ERRORS.labels(op="erase", backend=self.backend.name).inc()
                self._log_outage("erase", partition, exc)
                return deleted, False
            deleted += len(listed)
        return deleted, False


@lru_cache(maxsize=1)
def get_core():
    """Return this process's CacheCore from settings.IMPERAL_CACHE, or None if unset.

    Raises ImproperlyConfigured, naming the setting, when it is malformed.
    """
    config = getattr(settings, "IMPERAL_CACHE", None)
    if not config or not config.get("BACKEND"):
        return None
    return CacheCore(
        load_backend(config),
        config.get("KEY_PREFIX", "imperal:ext"),
        getattr(settings, "IMPERAL_CACHE_MAX_ENTRIES", DEFAULT_MAX_ENTRIES),
    )


def load_backend(config):
    """Return the backend ``config`` (an IMPERAL_CACHE dict) names, built with its OPTIONS."""
    cls = backend_class("IMPERAL_CACHE['BACKEND']", config["BACKEND"], "CacheBackend")
    options = config.get("OPTIONS", {})
    if not isinstance(options, dict):
        raise ImproperlyConfigured("IMPERAL_CACHE['OPTIONS'] must be a dict")
    return cls(**options)


def reset_core():
    """Forget this process's CacheCore (closing its backend); the next use rebuilds it."""
    if get_core.cache_info().currsize:
        core = get_core()
        if core is not None:
            core.backend.close()
    get_core.cache_clear()


def reset_core_on_setting_change(setting, **kwargs):
    if setting in ("IMPERAL_CACHE", "IMPERAL_CACHE_MAX_ENTRIES", "CACHES"):
        reset_core()
