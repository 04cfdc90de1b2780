"""The usage page of one extension: its top users by each counted figure, beside the
limits, and the daily totals of calls and tokens as a chart.

Every figure is a counter (apps.api.usage): nothing here reads documents,
files or cache entries themselves.
"""

from django.urls import path

from apps.accounts.partition import Partition
from apps.api import data, usage
from apps.quotas import limits as quota_limits
from apps.quotas.kinds import KINDS

from . import charts
from .site import NotFound, console_view, render_listing

VIEW = "quotas.view_usage"
COLUMNS = (
    ("store.documents", "Documents"),
    ("store.bytes", "Bytes"),
    ("cache.entries", "Cache entries"),
    ("files.bytes", "File bytes"),
    ("ai.tokens", "AI tokens today"),
    ("egress.calls", "Outbound calls today"),
)
COLOURS = {"egress.calls": "#1565c0", "ai.tokens": "#6a1b9a"}


@console_view(VIEW)
def extension_usage(request, app_id):
    """One extension's top users (``?by=`` a ranking) and its daily totals."""
    if app_id not in data.known_app_ids():
        raise NotFound(f"no extension {app_id!r} here")
    tenant = request.user.tenant_id
    by = request.GET.get("by", "documents")
    error = None
    try:
        rows = usage.top_users(tenant, app_id, by)
    except ValueError as exc:
        error, by, rows = str(exc), "documents", []
    days = usage.daily_totals(tenant, app_id)
    context = {
        "app_id": app_id,
        "by": by,
        "rankings": [
            (key, dict(COLUMNS)[kind]) for key, kind in usage.RANKINGS.items()
        ],
        "columns": COLUMNS,
        "rows": [[row["user_id"], *(row[k] for k, _ in COLUMNS)] for row in rows],
        "limits": _limits(tenant, app_id),
        "charts": _charts(days),
        "days": days,
        "error": error,
    }
    return render_listing(
        request, "console/ops/usage.html", context, title=f"Usage of {app_id}"
    )


def _limits(tenant, app_id):
    """Return [(column title, limit, per)] every user of the extension gets."""
    every = quota_limits.limits_of(Partition(tenant, app_id, ""))
    return [(title, every[kind], KINDS[kind].window) for kind, title in COLUMNS]


def _charts(days):
    """Return [(title, chart)]: one bar chart per daily kind (their units differ)."""
    labels = [day["day"][5:] for day in days]
    return [
        (
            dict(COLUMNS)[kind],
            charts.stacked_bars(
                labels, [(dict(COLUMNS)[kind], colour, [d[kind] for d in days])]
            ),
        )
        for kind, colour in COLOURS.items()
    ]


urlpatterns = [
    path("<str:app_id>/", extension_usage, name="usage"),
]
