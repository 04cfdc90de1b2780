"""Mirror the registry into the database: Extension rows and beat entries."""

import logging

from django.db import transaction

from imperal_platform.signals import extensions_synced

from .models import Extension as ExtensionRow
from .params import signature_of
from .registry import get_registry

logger = logging.getLogger(__name__)


def sync_extensions(registry=None, using="default"):
    """Upsert Extension rows for the registry, then tell the layers above and below.

    Receivers of ``extensions_synced`` mirror beat entries and provision
    ctx.db areas, appending their failures to ``summary["errors"]``; return
    the summary dict.

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
    summary = {
        "synced": synced,
        "missing": missing,
        "errors": [str(e) for e in registry.errors],
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
                "description": tool.definition.description.strip(),
                "scopes": list(tool.definition.scopes),
                "params": _params_schema(tool.signature),
            }
            for name, tool in loaded.tools().items()
        ],
        "chat_functions": [
            {
                "name": name,
                "description": function.definition.description.strip(),
                "action_type": function.definition.action_type,
                "params": _params_schema(function.signature),
            }
            for name, function in loaded.chat_functions().items()
        ],
        "panels": [
            {
                "panel_id": panel_id,
                "slot": panel.definition.get("slot", ""),
                "title": panel.definition.get("title", ""),
                "params": _params_schema(panel.signature),
            }
            for panel_id, panel in loaded.panels().items()
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
