"""Mirror the registry into the database: Extension rows and beat entries."""

import logging

from django.db import transaction
from django.dispatch import Signal

from apps.scheduler.beat import sync_schedules

from .invocation import PANEL_PREFIX, panel_handler
from .models import Extension as ExtensionRow
from .params import signature_of
from .registry import get_registry

logger = logging.getLogger(__name__)

# Sent after the rows are written, with ``registry`` and ``summary``; a
# receiver (ctx.db provisioning) appends what failed to ``summary["errors"]``.
extensions_synced = Signal()


def sync_extensions(registry=None, using="default"):
    """Upsert Extension rows and beat entries for the registry; return a summary dict.

    Rows of extensions that left the registry are marked ``loaded=False``, never
    deleted (their users' data stays reachable); the operator's ``enabled``
    switch is left as it is.
    """
    registry = registry or get_registry()
    synced = []
    with transaction.atomic(using=using):
        for loaded in registry:
            ExtensionRow.objects.using(using).update_or_create(
                app_id=loaded.app_id, defaults=describe(loaded)
            )
            synced.append(loaded.app_id)
        missing = list(
            ExtensionRow.objects.using(using)
            .exclude(app_id__in=synced)
            .filter(loaded=True)
            .values_list("app_id", flat=True)
        )
        ExtensionRow.objects.using(using).filter(app_id__in=missing).update(
            loaded=False
        )
    schedule_errors = sync_schedules(registry)
    summary = {
        "synced": synced,
        "missing": missing,
        "errors": [str(e) for e in registry.errors] + schedule_errors,
    }
    extensions_synced.send(
        sender=sync_extensions, registry=registry, using=using, summary=summary
    )
    return summary


def describe(loaded):
    """Return the Extension row fields describing one LoadedExtension."""
    ext = loaded.ext
    return {
        "display_name": ext.display_name or ext.app_id,
        "description": ext.description or "",
        "version": ext.version or "",
        "entry": loaded.entry,
        "loaded": True,
        "tools": [
            {
                "name": name,
                "description": tool.description.strip(),
                "scopes": list(tool.scopes),
                "params": _params_schema(tool.func),
            }
            for name, tool in ext.tools.items()
            if not name.startswith(PANEL_PREFIX)
        ],
        "panels": [
            {
                "panel_id": panel_id,
                "slot": meta.get("slot", ""),
                "title": meta.get("title", ""),
                "params": _params_schema(
                    panel_handler(ext.tools[PANEL_PREFIX + panel_id].func)
                ),
            }
            for panel_id, meta in ext._panels.items()
        ],
        "schedules": [{"name": s.name, "cron": s.cron} for s in ext.schedules.values()],
        "cache_models": sorted(ext._cache_models),
    }


def _params_schema(func):
    try:
        return signature_of(func).json_schema()
    except Exception as exc:  # a param type pydantic cannot describe
        logger.warning(
            "no params schema for %s: %s", getattr(func, "__qualname__", func), exc
        )
        return {}
