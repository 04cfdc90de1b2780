"""The partition browser: extensions, an extension's users, one user's partition,
its export and its erase.

Counts come from the store's trigger-kept statistics (apps.store.stats), cache
counts from the cache core; export and erase are the operator API's own
(apps.api.data), recorded with the operator's name (OperatorAction).
"""

from django.urls import reverse
from django.views.decorators.http import require_http_methods

from apps.accounts.partition import Partition
from apps.accounts.tenancy import operator_tenant
from apps.api import data
from apps.api.actions import Action, record
from apps.api.views.me import export_response
from apps.api.views.partitions import erase_as_operator
from apps.cache.core import get_core
from apps.files.core import Files
from apps.store.stats import Statistics

from .site import (
    ADD,
    DELETE,
    VIEW,
    NotFound,
    can,
    console_view,
    known_extension,
    operated_partition,
    render_console,
    render_listing,
    seconds,
    users_page,
)

USERS_PER_PAGE = 50
CACHE_COUNT_CAP = 1000
SORT_LABELS = {"user": "User", "documents": "Documents", "last_write": "Last write"}


@console_view(VIEW)
def extensions(request):
    """Every extension known here, with its users and documents."""
    counted = Statistics().extensions(operator_tenant(request.user))
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
    """One extension's users: searchable, sortable, keyset-paginated both ways."""
    known_extension(app_id)
    search = request.GET.get("q", "")[:128]
    sort = request.GET.get("sort", "user")
    error, page, reader = None, None, Statistics()
    try:
        page = reader.users(
            operator_tenant(request.user),
            app_id,
            search=search,
            sort=sort,
            cursor=request.GET.get("cursor") or None,
            before=request.GET.get("before") or None,
            limit=USERS_PER_PAGE,
        )
    except ValueError as exc:
        error = str(exc)
    rows = _with_cache_counts(request, app_id, page.data if page else [])
    counted = reader.extensions(operator_tenant(request.user)).get(app_id, {})
    context = {
        "app_id": app_id,
        "search": search,
        "sort": sort,
        "rows": rows,
        "error": error,
        "total": counted.get("users", 0),
        "next_cursor": page.cursor if page else None,
        "previous_cursor": page.previous if page else None,
        "sorts": _sort_links(sort),
    }
    return render_listing(
        request, "console/partitions/users.html", context, title=f"{app_id}: users"
    )


@console_view(VIEW)
def partition(request, app_id, user_id):
    """One user's partition: collections, cache entries, export and erase."""
    part, held, (cache_count, truncated) = _held_partition(request, app_id, user_id)
    reader = Statistics()
    context = {
        "app_id": app_id,
        "user_id": user_id,
        "held": held,
        "last_write": seconds(held.last_write) if held else "",
        "collections": reader.collections(part),
        "cache_entries": cache_count,
        "cache_truncated": truncated,
        "files": Files().summary(part),
        "can_erase": can(request, DELETE),
        "can_add": can(request, ADD),
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
    action = record(request.user, Action.EXPORT, part)

    def done(count):
        type(action).objects.filter(pk=action.pk).update(documents=count)

    chunks = data.export_chunks(part.tenant_id, user_id, [part], on_done=done)
    return export_response(chunks, f"{app_id}-{user_id}-export.json")


@require_http_methods(["GET", "POST"])
@console_view(DELETE)
def erase(request, app_id, user_id):
    """GET: the confirmation page naming what goes; POST: erase, audited with
    the operator's name, then the extension's users with what was done."""
    part, held, (cache_count, truncated) = _held_partition(request, app_id, user_id)
    if request.method == "POST":
        erased = erase_as_operator(request.user, part)
        return render_console(
            request,
            "console/partitions/erased.html",
            {"erased": erased, "app_id": app_id, "user_id": user_id},
            title=f"Erased {app_id}: {user_id}",
        )
    context = {
        "app_id": app_id,
        "user_id": user_id,
        "held": held,
        "collections": Statistics().collections(part),
        "cache_entries": cache_count,
        "cache_truncated": truncated,
        "files": Files().summary(part),
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
def _held_partition(request, app_id, user_id):
    """Return (partition, its UserStats or None, (cache entries, truncated)).

    Raises NotFound when the partition holds no document, cache entry or file:
    there is nothing to show, export or erase.
    """
    part = operated_partition(request, app_id, user_id)
    held = Statistics().partition(part)
    cache = _cache_count(part)
    if held is None and cache[0] == 0 and not Files().summary(part)[0]:
        raise NotFound(
            f"No partition of user {user_id!r} in {app_id} (tenant "
            f"{part.tenant_id}): it holds no documents, cache entries or files.",
            users_page(app_id),
        )
    return part, held, cache


def _with_cache_counts(request, app_id, found):
    """Return the page's users as dicts, each with its cache entry count."""
    tenant = operator_tenant(request.user)
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
