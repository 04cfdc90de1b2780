"""Usage counters: charged and released atomically, read without a scan.

A charge is one conditional upsert of the partition's counter row::

    INSERT … SELECT … WHERE amount <= limit
    ON CONFLICT (…) DO UPDATE SET used = used + amount WHERE used + amount <= limit
    RETURNING used

It returns a row only when the amount fitted, so of concurrent charges over
a limit exactly those that fit pass, on PostgreSQL (the row lock of the
conflicting update) and on SQLite (one writer at a time) alike. A cost known
only afterwards (a model's tokens) is reserved: ``charge`` the most it may be
before the call, ``release`` what it did not use after (or ``add`` what it used
beyond the reservation, which no limit can refuse once it is spent). Held kinds
(files' bytes) count in the window ``""``; a day's kinds (AI tokens) in the
UTC day's row. A minute's kinds (outbound calls) count on the shared cache's
atomic window counter (:mod:`apps.common.ratelimit`), where a minute's
counter expires by itself; their daily figures are added to the usage table
afterwards (:func:`add`).

Every function here is a statement generator (:mod:`apps.common.statements`)
or, without the leading ``_``, its synchronous form on a Django connection.
"""

import datetime

from asgiref.sync import sync_to_async

from apps.common import ratelimit
from apps.common.statements import run_on_django

from . import limits as quota_limits
from .errors import QuotaExceeded
from .kinds import DAY, HELD, MINUTE, kind_of
from .models import Usage

USAGE = Usage._meta.db_table
_KEY = "tenant_id, app_id, user_id, kind, period"
_WHERE_KEY = (
    "tenant_id = %s AND app_id = %s AND user_id = %s AND kind = %s AND period = %s"
)
CHARGE = f"""INSERT INTO {USAGE} ({_KEY}, used)
SELECT %s, %s, %s, %s, %s, %s WHERE %s <= %s
ON CONFLICT ({_KEY}) DO UPDATE SET used = {USAGE}.used + excluded.used
WHERE {USAGE}.used + excluded.used <= %s
RETURNING used"""
ADD = f"""INSERT INTO {USAGE} ({_KEY}, used) VALUES (%s, %s, %s, %s, %s, %s)
ON CONFLICT ({_KEY}) DO UPDATE SET used = {USAGE}.used + excluded.used
RETURNING used"""
RELEASE = f"""UPDATE {USAGE}
SET used = CASE WHEN used > %s THEN used - %s ELSE 0 END WHERE {_WHERE_KEY}"""
READ = f"SELECT used FROM {USAGE} WHERE {_WHERE_KEY}"
MINUTE_KEY_PREFIX = "quota-minute"
UTC = datetime.UTC


def period_of(kind, now=None):
    """Return the counter window of ``kind`` at ``now``: "" (held) or the UTC day."""
    window = kind_of(kind).window
    if window == HELD:
        return ""
    moment = (now or datetime.datetime.now(UTC)).astimezone(UTC)
    return moment.date().isoformat() if window == DAY else moment.strftime("%H:%M")


def charge_statements(kind, partition, amount, now=None):
    """Charge ``amount`` of ``kind`` to ``partition`` within its limit; return the
    usage after (a statement generator, for a core's own transaction).

    Raises QuotaExceeded (nothing charged) when it would pass the limit;
    ValueError for an unknown kind or an amount that is not an integer >= 0.
    """
    _check(kind, amount)
    if kind_of(kind).window == MINUTE:
        raise ValueError(
            f"quotas: {kind} counts per minute on the shared cache; use charge()"
        )
    limit = (yield from quota_limits.limits(partition, (kind,)))[kind]
    period = period_of(kind, now)
    key = (*_partition_key(partition), kind, period)
    if limit is None:
        return (yield (ADD, (*key, amount)))[0][0]
    rows = yield (CHARGE, (*key, amount, amount, limit, limit))
    if rows:
        return rows[0][0]
    used = yield from _read(key)
    raise QuotaExceeded(
        kind, limit, used, amount, app_id=partition.app_id, window=kind_of(kind).window
    )


def add_statements(kind, partition, amount, now=None):
    """Add ``amount`` to ``partition``'s figure of ``kind`` (no limit checked);
    return the usage after (a statement generator)."""
    _check(kind, amount)
    key = (*_partition_key(partition), kind, _figure_period(kind, now))
    return (yield (ADD, (*key, amount)))[0][0]


def release_statements(kind, partition, amount, now=None):
    """Take ``amount`` of ``kind`` back from ``partition``'s current window (never
    below 0): a held kind's data deleted, or the unused part of a daily kind's
    reservation (charge an estimate before a call, release what it did not use)."""
    _check(kind, amount)
    if kind_of(kind).window == MINUTE:
        raise ValueError(f"quotas: {kind} counts per minute and is not released")
    key = (*_partition_key(partition), kind, period_of(kind, now))
    yield (RELEASE, (amount, amount, *key))


def usage_statements(kind, partition, now=None):
    """Return what ``partition`` used of ``kind`` in the current window."""
    key = (*_partition_key(partition), kind, _figure_period(kind, now))
    return (yield from _read(key))


def charge(kind, partition, amount, *, now=None, alias="default"):
    """Charge ``amount`` of ``kind`` to ``partition``; return the usage after.

    The API the surfaces call before they write or call: ``charge("files.bytes",
    partition, size)``, ``charge("ai.tokens", partition, tokens)``. Raises
    QuotaExceeded (with the limit, the usage and the amount; nothing charged)
    when it would pass the partition's limit.
    """
    if kind_of(kind).window == MINUTE:
        quota_limits.refresh(alias)
        return charge_minute(kind, partition, amount, now=now)
    return _run(charge_statements(kind, partition, amount, now), alias)


def add(kind, partition, amount, *, now=None, alias="default"):
    """Add to ``partition``'s figure of ``kind`` (no limit); return the usage after."""
    return _run(add_statements(kind, partition, amount, now), alias)


def release(kind, partition, amount, *, now=None, alias="default"):
    """Take ``amount`` of ``kind`` back (a file deleted, tokens reserved but not
    used); return None."""
    _run(release_statements(kind, partition, amount, now), alias)


def usage(kind, partition, *, now=None, alias="default"):
    """Return what ``partition`` used of ``kind`` in the current window."""
    return _run(usage_statements(kind, partition, now), alias)


acharge = sync_to_async(charge)
arelease = sync_to_async(release)


def charge_minute(kind, partition, amount=1, *, now=None):
    """Count ``amount`` in ``partition``'s minute of ``kind`` on the shared cache's
    atomic counter; return the count, or None when no limit applies.

    No database I/O: the limit comes from the rows this process holds (an async
    caller awaits :func:`apps.quotas.limits.arefresh` first). Raises
    QuotaExceeded past the limit.
    """
    _check(kind, amount)
    limit = quota_limits.held_limit(partition, kind)
    if limit is None:
        return None
    moment = (now or datetime.datetime.now(UTC)).timestamp()
    ident = ":".join(_partition_key(partition)) + f":{kind}"
    key, _ = ratelimit.window_key(MINUTE_KEY_PREFIX, ident, 60, moment)
    count = ratelimit.counter_for().incr(key, 61, amount)
    if count > limit:
        raise QuotaExceeded(
            kind,
            limit,
            min(limit, count - amount),
            amount,
            app_id=partition.app_id,
            window=MINUTE,
        )
    return count


def _figure_period(kind, now):
    """Return the usage-table window of ``kind``'s figures: minutes add up by day."""
    if kind_of(kind).window == MINUTE:
        return (now or datetime.datetime.now(UTC)).astimezone(UTC).date().isoformat()
    return period_of(kind, now)


def _read(key):
    rows = yield (READ, key)
    return rows[0][0] if rows else 0


def _check(kind, amount):
    kind_of(kind)
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
        raise ValueError(
            f"quotas: an amount is an integer >= 0; got {amount!r:.40} for {kind}"
        )


def _partition_key(partition):
    return (partition.tenant_id, partition.app_id, partition.user_id)


def _run(operation, alias):
    return run_on_django(operation, _untranslated, alias)


def _untranslated(exc):
    return exc
