"""The cache inspector of one partition: its live entries, and deleting one.

Everything goes through the cache core (``inspect_entries``, ``remove_entry``),
on whichever backend is configured (Redis or the embedded file). A delete is
recorded with the operator's name (OperatorAction).
"""

from django.contrib import messages
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from apps.api.actions import Action, record
from apps.cache.core import get_core

from . import site

ENTRIES_SHOWN = 500


@site.console_view(site.VIEW)
def entries(request, app_id, user_id):
    """The partition's live entries: model, key hash, size, TTL left, cached at."""
    part = site.operated_partition(request, app_id, user_id)
    core = get_core()
    found = core.inspect_entries(part, ENTRIES_SHOWN) if core else []
    context = {
        "app_id": app_id,
        "user_id": user_id,
        "entries": [
            {**vars(entry), "cached_at": site.seconds(entry.cached_at)}
            for entry in found
        ],
        "configured": core is not None,
        "backend": core.backend.name if core else "",
        "can_delete": site.can(request, site.DELETE),
    }
    return site.render_console(
        request, "console/cache/entries.html", context, title=f"Cache of {user_id}"
    )


@require_POST
@site.console_view(site.DELETE)
def delete_entry(request, app_id, user_id):
    """Delete the entry named by the form's ``model`` and ``key_hash``."""
    part = site.operated_partition(request, app_id, user_id)
    core = get_core()
    model, key_hash = request.POST.get("model", ""), request.POST.get("key_hash", "")
    try:
        if core is not None:
            core.remove_entry(part, model, key_hash)
            detail = {"model": model, "key_hash": key_hash}
            record(request.user, Action.CACHE_DELETE, part, detail=detail)
        messages.success(request, f"Deleted cache entry {model} {key_hash}.")
    except ValueError as exc:
        messages.error(request, str(exc))
    return redirect("console:cache", app_id, user_id)
