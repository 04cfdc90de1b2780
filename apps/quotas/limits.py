"""The limit that applies to one partition and kind: the admin's rows over IMPERAL_QUOTAS.

The most specific value wins: the user's own, then the extension's, then
``"*"``'s; at one level a limit set in the admin wins over the setting's. The
admin's rows are read once per :attr:`LimitTable.refresh_seconds` per process
(and at once after a change in this process), so a limit changed in the admin
reaches every worker within that time. Lookups are statement generators (see
:mod:`apps.common.statements`), so a core reads them on whichever connection
runs it, the async pool included; :func:`limit_for` is the synchronous form.
"""

import threading
import time
from functools import lru_cache

from asgiref.sync import sync_to_async
from django.conf import settings

from apps.common.statements import run_on_django

from . import config
from .kinds import KINDS, kind_of
from .models import QuotaLimit

ROWS = f"SELECT app_id, user_id, kind, value FROM {QuotaLimit._meta.db_table}"


@lru_cache(maxsize=1)
def configured():
    """Return the parsed IMPERAL_QUOTAS (ImproperlyConfigured names a bad key)."""
    return config.parse(getattr(settings, config.SETTING, None))


class LimitTable:
    """The admin's limit rows of this process, reread when older than refresh_seconds."""

    refresh_seconds = 5.0
    clock = staticmethod(time.monotonic)

    def __init__(self):
        self._lock = threading.Lock()
        self._rows = None
        self._read_at = 0.0

    def current(self):
        """Return {(app_id, user_id): {kind: limit}} (a statement generator)."""
        now = self.clock()
        with self._lock:
            if self._rows is not None and now - self._read_at < self.refresh_seconds:
                return self._rows
        rows = {}
        for app_id, user_id, kind, limit in (yield (ROWS, ())):
            rows.setdefault((app_id, user_id), {})[kind] = limit
        with self._lock:
            self._rows, self._read_at = rows, now
        return rows

    def fresh(self):
        """Return whether the rows held are younger than refresh_seconds."""
        with self._lock:
            held, read_at = self._rows is not None, self._read_at
        return held and self.clock() - read_at < self.refresh_seconds

    def held(self):
        """Return the rows held (empty before the first read), without reading."""
        with self._lock:
            return self._rows or {}

    def forget(self):
        """Drop the rows held; the next lookup reads them again."""
        with self._lock:
            self._rows = None


table = LimitTable()


def limits(partition, kinds):
    """Return {kind: limit or None} of ``kinds`` for ``partition`` (a statement
    generator: it reads the admin's rows when this process's copy is stale)."""
    admin = yield from table.current()
    code = configured().values
    keys = _keys(partition)
    return {kind: _most_specific(keys, (admin, code), kind) for kind in kinds}


def held_limit(partition, kind):
    """Return the limit of ``kind`` for ``partition`` from the admin's rows this
    process holds, without any I/O (a face calls :func:`refresh` or
    :func:`arefresh` first when :meth:`LimitTable.fresh` says they are stale)."""
    return _most_specific(
        _keys(partition), (table.held(), configured().values), kind_of(kind).name
    )


def refresh(alias="default"):
    """Read the admin's rows when this process's copy is stale; return None."""
    if not table.fresh():
        run_on_django(table.current(), _untranslated, alias)


arefresh = sync_to_async(refresh)


def limit_for(partition, kind, alias="default"):
    """Return the limit of ``kind`` for ``partition`` (an int), or None for none."""
    kind_of(kind)
    return run_on_django(limits(partition, (kind,)), _untranslated, alias)[kind]


def limits_of(partition, alias="default"):
    """Return {kind: limit or None} of every kind for ``partition``."""
    return run_on_django(limits(partition, tuple(KINDS)), _untranslated, alias)


def forget():
    """Forget the setting's parse and the admin's rows (settings or rows changed)."""
    configured.cache_clear()
    table.forget()


def _keys(partition):
    return (
        (partition.app_id, partition.user_id),
        (partition.app_id, ""),
        (config.EVERY_EXTENSION, ""),
    )


def _most_specific(keys, sources, kind):
    for key in keys:
        for source in sources:
            entry = source.get(key)
            if entry is not None and kind in entry:
                return entry[kind]
    return None


def _untranslated(exc):
    return exc
