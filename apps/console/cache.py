"""The cache inspector of one partition: its live entries, and deleting one.

Everything goes through the cache core (``inspect_entries``, ``remove_entry``),
on whichever backend is configured (Redis or the embedded file).
"""

from django.contrib import messages
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from apps.cache.core import get_core

from .site import (
    DELETE,
    VIEW,
    can,
    console_view,
    operated_partition,
    render_console,
    seconds,
)

ENTRIES_SHOWN = 500


@console_view(VIEW)
def entries(request, app_id, user_id):
    """The partition's live entries: model, key hash, size, TTL left, cached at."""
    part = operated_partition(request, app_id, user_id)
    core = get_core()
    found = core.inspect_entries(part, ENTRIES_SHOWN) if core else []
    context = {
        "app_id": app_id,
        "user_id": user_id,
        "entries": [
            {**vars(entry), "cached_at": seconds(entry.cached_at)} for entry in found
        ],
        "configured": core is not None,
        "backend": core.backend.name if core else "",
        "can_delete": can(request, DELETE),
    }
    return render_console(
        request, "console/cache/entries.html", context, title=f"Cache of {user_id}"
    )


@require_POST
@console_view(DELETE)
def delete_entry(request, app_id, user_id):
    """Delete the entry named by the form's ``model`` and ``key_hash``."""
    part = operated_partition(request, app_id, user_id)
    core = get_core()
    model, key_hash = request.POST.get("model", ""), request.POST.get("key_hash", "")
    try:
        if core is not None:
            core.remove_entry(part, model, key_hash)
        messages.success(request, f"Deleted cache entry {model} {key_hash}.")
    except ValueError as exc:
        messages.error(request, str(exc))
    return redirect("console:cache", app_id, user_id)
