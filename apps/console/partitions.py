"""The partition browser: extensions, an extension's users, one user's partition,
its export and its erase.

Counts come from the store's trigger-kept statistics (apps.store.stats), cache
counts from the cache core; export and erase are the operator API's own
(apps.api.data), recorded with the operator's name (OperatorAction).
"""

from django.http import Http404
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from apps.accounts.partition import Partition
from apps.api import data
from apps.api.models import OperatorAction
from apps.api.views.me import export_response
from apps.api.views.partitions import erase_as_operator, record
from apps.cache.core import get_core
from apps.store.stats import Statistics

from .site import (
    DELETE,
    VIEW,
    can,
    console_view,
    operated_partition,
    render_console,
    render_listing,
    seconds,
)

USERS_PER_PAGE = 50
CACHE_COUNT_CAP = 1000
SORT_LABELS = {"user": "User", "documents": "Documents", "last_write": "Last write"}


@console_view(VIEW)
def extensions(request):
    """Every extension known here, with its users and documents."""
    counted = Statistics().extensions(request.user.tenant_id)
    rows = [
        {"app_id": app_id, **counted.get(app_id, {"users": 0, "documents": 0})}
        for app_id in data.known_app_ids()
    ]
    return render_console(
        request,
        "console/partitions/extensions.html",
        {"extensions": rows},
        title="Partitions",
    )


@console_view(VIEW)
def users(request, app_id):
    """One extension's users: searchable, sortable, keyset-paginated."""
    if app_id not in data.known_app_ids():
        raise Http404(f"unknown extension {app_id!r}")
    search = request.GET.get("q", "")[:128]
    sort = request.GET.get("sort", "user")
    error, page = None, None
    try:
        page = Statistics().users(
            request.user.tenant_id,
            app_id,
            search=search,
            sort=sort,
            cursor=request.GET.get("cursor") or None,
            limit=USERS_PER_PAGE,
        )
    except ValueError as exc:
        error = str(exc)
    rows = _with_cache_counts(request, app_id, page.data if page else [])
    context = {
        "app_id": app_id,
        "search": search,
        "sort": sort,
        "rows": rows,
        "error": error,
        "next_cursor": page.cursor if page else None,
        "sorts": _sort_links(sort),
    }
    return render_listing(
        request, "console/partitions/users.html", context, title=f"{app_id}: users"
    )


@console_view(VIEW)
def partition(request, app_id, user_id):
    """One user's partition: collections, cache entries, export and erase."""
    part = operated_partition(request, app_id, user_id)
    reader = Statistics()
    held = reader.partition(part)
    cache_count, truncated = _cache_count(part)
    context = {
        "app_id": app_id,
        "user_id": user_id,
        "held": held,
        "last_write": seconds(held.last_write) if held else "",
        "collections": reader.collections(part),
        "cache_entries": cache_count,
        "cache_truncated": truncated,
        "can_erase": can(request, DELETE),
    }
    return render_console(
        request,
        "console/partitions/partition.html",
        context,
        title=f"{app_id}: {user_id}",
    )


@console_view(VIEW)
def export(request, app_id, user_id):
    """Download the partition's documents as JSON (recorded with the operator)."""
    part = operated_partition(request, app_id, user_id)
    action = record(request.user, OperatorAction.Action.EXPORT, part)

    def done(count):
        OperatorAction.objects.filter(pk=action.pk).update(documents=count)

    chunks = data.export_chunks(part.tenant_id, user_id, [part], on_done=done)
    return export_response(chunks, f"{app_id}-{user_id}-export.json")


@require_http_methods(["GET", "POST"])
@console_view(DELETE)
def erase(request, app_id, user_id):
    """GET: the confirmation page naming what goes; POST: erase, audited with
    the operator's name, then the extension's users with what was done."""
    part = operated_partition(request, app_id, user_id)
    if request.method == "POST":
        erased = erase_as_operator(request.user, part)
        return render_console(
            request,
            "console/partitions/erased.html",
            {"erased": erased, "app_id": app_id, "user_id": user_id},
            title=f"Erased {app_id}: {user_id}",
        )
    reader = Statistics()
    cache_count, truncated = _cache_count(part)
    context = {
        "app_id": app_id,
        "user_id": user_id,
        "held": reader.partition(part),
        "collections": reader.collections(part),
        "cache_entries": cache_count,
        "cache_truncated": truncated,
        "db_rows": data.DB_ROWS_NOTE,
        "cancel": reverse("console:partition", args=[app_id, user_id]),
    }
    return render_console(
        request,
        "console/partitions/erase.html",
        context,
        title=f"Erase {app_id}: {user_id}?",
    )


# --- helpers ---------------------------------------------------------------
def _with_cache_counts(request, app_id, found):
    """Return the page's users as dicts, each with its cache entry count."""
    tenant = request.user.tenant_id
    counts = _cache_counts([Partition(tenant, app_id, u.user_id) for u in found])
    return [
        {
            "user_id": user.user_id,
            "documents": user.documents,
            "collections": user.collections,
            "last_write": seconds(user.last_write),
            "cache_entries": count,
            "cache_truncated": truncated,
        }
        for user, (count, truncated) in zip(found, counts, strict=True)
    ]


def _cache_count(part):
    return _cache_counts([part])[0]


def _cache_counts(parts):
    """Return (entries, truncated) of each partition, in one backend round trip."""
    core = get_core()
    if core is None:
        return [(0, False)] * len(parts)
    return core.count_entries(parts, CACHE_COUNT_CAP)


def _sort_links(current):
    """Return each sortable column's label, its next sort, and its arrow."""
    links = []
    for name, label in SORT_LABELS.items():
        if current == name:
            links.append({"label": label, "sort": f"-{name}", "arrow": "▲"})
        elif current == f"-{name}":
            links.append({"label": label, "sort": name, "arrow": "▼"})
        else:
            links.append({"label": label, "sort": name, "arrow": ""})
    return links
