"""Usage figures: what a user or an extension's users hold and use, beside their limits.

One place reads them for the user API (``GET /api/v1/me/usage``) and the
console's usage page. Every figure comes from a counter kept as data is
written, never from reading the data: documents and bytes from the store's
partition statistics, cache entries from the cache backend's per-partition
index, the other kinds from the usage table of apps.quotas (held files'
bytes; each UTC day's outbound calls and AI tokens).
"""

import datetime

from django.db.models import Sum

from apps.accounts.partition import Partition
from apps.cache.core import get_core
from apps.quotas import limits as quota_limits
from apps.quotas.kinds import DAY, HELD, KINDS, MINUTE
from apps.quotas.models import Usage
from apps.store.stats import Statistics

STORE_KINDS = ("store.documents", "store.bytes")
CACHE_KIND = "cache.entries"
#: Kinds whose figures are rows of the usage table.
TABLE_KINDS = tuple(k for k in KINDS if k not in (*STORE_KINDS, CACHE_KIND))
CACHE_COUNT_MAX = 10_000
TOP_DEFAULT = 20
TOP_MAX = 100
DAYS_DEFAULT = 14
#: What the console's top users may be ranked by: a counter with an index.
RANKINGS = {"documents": "store.documents", "bytes": "store.bytes"}
RANKINGS.update({kind: kind for kind in TABLE_KINDS})


def today(now=None):
    """Return the UTC day the daily figures count now, as ``YYYY-MM-DD``."""
    return (now or datetime.datetime.now(datetime.UTC)).date().isoformat()


def partition_usage(partition, now=None):
    """Return {kind: {used, counted, limit, limit_per}} of one partition.

    ``counted`` is ``held`` (what it holds now) or ``today`` (the UTC day's
    total; a per-minute limit is counted per minute on the shared cache, and
    its daily total shown). A limit of None means none applies.
    """
    limits = quota_limits.limits_of(partition)
    held = Statistics().partition(partition)
    figures = {
        "store.documents": held.documents if held else 0,
        "store.bytes": held.bytes if held else 0,
        CACHE_KIND: cache_entries([partition])[0],
        **table_figures(
            partition.tenant_id, partition.app_id, [partition.user_id], now
        ).get(partition.user_id, {}),
    }
    return {
        kind: {
            "used": figures.get(kind, 0),
            "counted": "held" if KINDS[kind].window == HELD else "today",
            "limit": limits[kind],
            "limit_per": KINDS[kind].window,
        }
        for kind in KINDS
    }


def table_figures(tenant_id, app_id, user_ids, now=None):
    """Return {user_id: {kind: used}} of the usage table's kinds for those users
    (held kinds now, daily kinds today): one indexed query."""
    day = today(now)
    rows = Usage.objects.filter(
        tenant_id=tenant_id,
        app_id=app_id,
        user_id__in=list(user_ids),
        kind__in=TABLE_KINDS,
        period__in=("", day),
    ).values_list("user_id", "kind", "period", "used")
    found = {}
    for user_id, kind, period, used in rows:
        if period == _period_of(kind, day):
            found.setdefault(user_id, {})[kind] = used
    return found


def cache_entries(partitions):
    """Return the live cache entries of each partition (None when unknown: no
    cache, or its backend unavailable), counting at most CACHE_COUNT_MAX."""
    core = get_core()
    if core is None or not partitions:
        return [None] * len(partitions)
    return [count for count, _ in core.count_entries(partitions, CACHE_COUNT_MAX)]


def top_users(tenant_id, app_id, by="documents", limit=TOP_DEFAULT, now=None):
    """Return the extension's top users by ``by`` (a RANKINGS key), each with
    every figure: [{user_id, <kind>: used, ...}], most first.

    Raises ValueError naming the choices for an unknown ``by``.
    """
    if by not in RANKINGS:
        raise ValueError(f"usage: by is one of {', '.join(RANKINGS)}; got {by!r:.40}")
    if (
        isinstance(limit, bool)
        or not isinstance(limit, int)
        or not 0 < limit <= TOP_MAX
    ):
        raise ValueError(f"usage: limit is 1-{TOP_MAX}; got {limit!r:.40}")
    kind = RANKINGS[by]
    if kind in STORE_KINDS:
        page = Statistics().users(tenant_id, app_id, sort=f"-{by}", limit=limit)
        user_ids = [row.user_id for row in page.data]
    else:
        user_ids = list(
            Usage.objects.filter(
                tenant_id=tenant_id,
                app_id=app_id,
                kind=kind,
                period=_period_of(kind, today(now)),
                used__gt=0,
            )
            .order_by("-used", "user_id")
            .values_list("user_id", flat=True)[:limit]
        )
    return _rows(tenant_id, app_id, user_ids, now)


def daily_totals(tenant_id, app_id, days=DAYS_DEFAULT, now=None):
    """Return [{day, <kind>: total}] of the daily kinds over the last ``days``
    UTC days, oldest first (days without use hold 0)."""
    end = (now or datetime.datetime.now(datetime.UTC)).date()
    labels = [(end - datetime.timedelta(days=n)).isoformat() for n in range(days)][::-1]
    daily = [k for k in TABLE_KINDS if KINDS[k].window in (DAY, MINUTE)]
    sums = (
        Usage.objects.filter(
            tenant_id=tenant_id, app_id=app_id, kind__in=daily, period__in=labels
        )
        .values_list("period", "kind")
        .annotate(total=Sum("used"))
    )
    totals = {(period, kind): total for period, kind, total in sums}
    return [
        {"day": day, **{kind: totals.get((day, kind), 0) for kind in daily}}
        for day in labels
    ]


def _rows(tenant_id, app_id, user_ids, now):
    partitions = [Partition(tenant_id, app_id, user_id) for user_id in user_ids]
    stats = Statistics()
    table = table_figures(tenant_id, app_id, user_ids, now)
    entries = cache_entries(partitions)
    rows = []
    for partition, cached in zip(partitions, entries, strict=True):
        held = stats.partition(partition)
        rows.append(
            {
                "user_id": partition.user_id,
                "store.documents": held.documents if held else 0,
                "store.bytes": held.bytes if held else 0,
                CACHE_KIND: cached,
                **{k: table.get(partition.user_id, {}).get(k, 0) for k in TABLE_KINDS},
            }
        )
    return rows


def _period_of(kind, day):
    return "" if KINDS[kind].window == HELD else day
