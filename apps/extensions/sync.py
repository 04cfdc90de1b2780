"""Mirror the registry into the database: Extension rows and beat entries."""

import logging

from django.db import transaction

from apps.common.signals import extensions_synced
from apps.common.webhook_origin import webhook_base_url

from .lifecycle import run_upgrade_hooks
from .models import Extension as ExtensionRow
from .params import signature_of
from .registry import get_registry
from .runtimes import runtime_name
from .unserved import unserved_features

logger = logging.getLogger(__name__)


def sync_extensions(registry=None, using="default"):
    """Upsert Extension rows for the registry, then tell the layers above and below.

    Receivers of ``extensions_synced`` mirror beat entries and provision
    ctx.db areas, appending their failures to ``summary["errors"]``; return
    the summary dict.

    Rows of extensions that left the registry are marked ``loaded=False``, never
    deleted (their users' data stays reachable); the operator's ``enabled``
    switch is left as it is. An extension whose version changed gets its
    ``on_upgrade`` hooks run (once per version, see lifecycle.run_upgrade_hooks).
    """
    registry = registry or get_registry()
    synced = []
    previous = dict(ExtensionRow.objects.using(using).values_list("app_id", "version"))
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
        "upgrades": _upgrade(registry, previous, using),
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
        "runtime": runtime_name(loaded),
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
        "skeleton_sections": [
            {"section": spec.section, "ttl": spec.ttl, "alert": spec.alert is not None}
            for spec in loaded.skeleton_sections().values()
        ],
        "webhooks": [
            {"path": w.path, "method": w.method.upper(), "url": _webhook_url(ext, w)}
            for w in ext.webhooks.values()
        ],
        "lifecycle_hooks": _lifecycle_hooks(ext),
        "unserved": unserved_features(ext),
    }


def _webhook_url(ext, webhook):
    return f"{webhook_base_url()}/v1/ext/{ext.app_id}/webhook/{webhook.path[1:]}"


def _lifecycle_hooks(ext):
    hooks = sorted(
        key.replace(":", "(", 1) + ")" if ":" in key else key for key in ext.lifecycle
    )
    if getattr(ext, "_health_check", None) is not None:
        hooks.append("health_check")
    return hooks


def _upgrade(registry, previous, using):
    """Run the upgrade hooks of extensions whose version changed; return their runs."""
    if using != "default":
        return []  # hook runs are recorded on the default database
    runs = []
    for loaded in registry:
        for run in run_upgrade_hooks(loaded, previous.get(loaded.app_id, "")):
            runs.append(f"{run.app_id} on_upgrade({run.version}): {run.status}")
    return runs


def _params_schema(func):
    try:
        return signature_of(func).json_schema()
    except Exception as exc:  # a param type pydantic cannot describe
        logger.warning(
            "no params schema for %s: %s", getattr(func, "__qualname__", func), exc
        )
        return {}
