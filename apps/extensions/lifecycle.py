"""imperal-sdk lifecycle hooks: on_install, on_uninstall, on_enable/on_disable, on_upgrade.

Each run is a LifecycleRun row (who, when, outcome, error). A hook that raises
or times out is recorded and never blocks what triggered it: the user's call,
the erase, the operator's switch or the sync goes on. ``health_check`` is in
:mod:`apps.extensions.health`.
"""

import logging
import re

from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import IntegrityError, transaction

from apps.accounts.identity import SYSTEM_ID, system_user_context, user_context_for_id
from apps.accounts.ids import is_valid_user_id
from apps.accounts.partition import Partition

from .hooks import HandlerOutcome
from .installation import (
    Hook,
    Status,
    hook_context,
    log_run,
    record_run,
    run_and_record,
)
from .limits import handler_timeout
from .models import Extension as ExtensionRow
from .models import Installation, LifecycleRun
from .registry import get_registry
from .runtimes import run_kernel_handler
from .skeleton import forget_sections

logger = logging.getLogger(__name__)

SYNC_ACTOR = "sync_extensions"
_NUMERIC_VERSION = re.compile(r"^\d+(\.\d+)*$")


def run_uninstall(app_id, user_id, tenant_id, actor=""):
    """Run ``on_uninstall`` for a user whose data in ``app_id`` is about to be erased.

    Call it before the erase. Forgets the user's installation and skeleton
    sections, so a later use installs again. Return the LifecycleRun, or None
    when the extension has no such hook (or is not loaded). Never raises for
    the hook's failure; a disabled extension's hook is recorded as skipped.
    """
    partition = Partition(tenant_id, app_id, user_id)
    loaded = get_registry().get(app_id)
    hook = loaded.ext.lifecycle.get(Hook.UNINSTALL) if loaded else None
    run = None
    if hook is not None:
        who = actor or user_id
        if _disabled(app_id):
            run = _skipped(app_id, Hook.UNINSTALL, partition, who)
        elif not is_valid_user_id(user_id):
            # A partition stored before the user-id rule: no context can be
            # built for it, and its erase must still go ahead.
            run = _skipped(
                app_id,
                Hook.UNINSTALL,
                partition,
                who,
                "the user id breaks the user-id rule (stored before it)",
            )
        else:
            ctx = hook_context(loaded, user_context_for_id(user_id, tenant_id))
            run = async_to_sync(run_and_record)(
                loaded, Hook.UNINSTALL, hook.func, ctx, who
            )
    Installation.objects.in_partition(partition).delete()
    forget_sections(partition)
    return run


def run_switch_hook(app_id, enabled, actor):
    """Run ``on_enable`` or ``on_disable`` after an operator switched ``app_id``.

    Return the LifecycleRun, or None when there is no such hook.
    """
    name = Hook.ENABLE if enabled else Hook.DISABLE
    loaded = get_registry().get(app_id)
    hook = loaded.ext.lifecycle.get(name) if loaded else None
    if hook is None:
        return None
    ctx = _system_context(loaded)
    return async_to_sync(run_and_record)(loaded, name, hook.func, ctx, actor)


def run_switch_hook_after_save(sender, instance, raw=False, using=None, **kwargs):
    """post_save of an Extension row: when ``enabled`` changed, run on_enable or
    on_disable after the commit.

    Every path that switches an extension (admin, API, shell) saves the row,
    so this is the one trigger; a fixture's raw save switches nothing.
    ``switched_by`` (set on the row by the caller) names the operator in the
    hook's record.
    """
    if raw:
        return
    previous = getattr(instance, "_stored_enabled", None)
    instance._stored_enabled = instance.enabled
    if previous is None or previous == instance.enabled:
        return
    app_id, enabled = instance.app_id, instance.enabled
    actor = getattr(instance, "switched_by", "") or "unknown"
    transaction.on_commit(lambda: run_switch_hook(app_id, enabled, actor), using=using)


def run_upgrade_hooks(loaded, previous_version, actor=SYNC_ACTOR):
    """Run the ``on_upgrade(v)`` hooks a move from ``previous_version`` reaches.

    Those with previous < v <= the extension's version (dotted numbers), or
    v == its version otherwise; each (extension, v) runs once, whoever syncs.
    Return the LifecycleRuns started here.
    """
    current = loaded.ext.version or ""
    if not previous_version or previous_version == current:
        return []
    runs = []
    for key, hook in sorted(loaded.ext.lifecycle.items()):
        if not key.startswith(f"{Hook.UPGRADE}:"):
            continue
        if not _reached(hook.version, previous_version, current):
            continue
        run = _claim_upgrade(loaded.app_id, hook.version, actor)
        if run is None:
            continue
        if _disabled(loaded.app_id):
            _finish(run, Status.SKIPPED, error="extension is disabled by an operator")
        else:
            outcome = async_to_sync(run_kernel_handler)(
                loaded,
                "hook",
                key,
                f"{loaded.app_id} on_upgrade({hook.version})",
                hook.func,
                _system_context(loaded),
                handler_timeout(loaded.app_id),
            )
            _finish(run, outcome.status, outcome.result, outcome.error, outcome)
        runs.append(run)
    return runs


def _reached(version, previous, current):
    if not all(_NUMERIC_VERSION.match(v) for v in (version, previous, current)):
        return version == current
    as_tuple = lambda v: tuple(int(part) for part in v.split("."))  # noqa: E731
    return as_tuple(previous) < as_tuple(version) <= as_tuple(current)


def _claim_upgrade(app_id, version, actor):
    try:
        with transaction.atomic():
            return LifecycleRun.objects.create(
                app_id=app_id,
                hook=Hook.UPGRADE,
                version=version,
                actor=actor,
                user_id=SYSTEM_ID,
                status=Status.RUNNING,
            )
    except IntegrityError:
        return None


def _finish(run, status, result=None, error="", outcome=None):
    run.status, run.result, run.error = status, result, error
    run.duration_ms = outcome.duration_ms if outcome else 0.0
    run.save(update_fields=["status", "result", "error", "duration_ms"])
    log_run(run)


def _skipped(
    app_id, hook, partition, actor, why="extension is disabled by an operator"
):
    outcome = HandlerOutcome(Status.SKIPPED, error=why)
    return record_run(app_id, hook, partition, actor, outcome)


def _system_context(loaded, tenant_id=None):
    tenant = tenant_id or settings.IMPERAL_DEFAULT_TENANT
    return hook_context(loaded, system_user_context(tenant))


def _disabled(app_id):
    return ExtensionRow.objects.is_disabled(app_id)
