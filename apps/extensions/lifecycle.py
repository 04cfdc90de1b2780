"""imperal-sdk lifecycle hooks: on_install, on_uninstall, on_enable/on_disable, on_upgrade.

Each run is a LifecycleRun row (who, when, outcome, error). A hook that raises
or times out is recorded and never blocks what triggered it: the user's call,
the erase, the operator's switch or the sync goes on. ``health_check`` is in
:mod:`apps.extensions.health`.
"""

import logging
import re

from asgiref.sync import async_to_sync, sync_to_async
from django.db import IntegrityError, transaction

from apps.accounts.identity import SYSTEM_ID, system_user_context, user_context_for_id
from apps.accounts.ids import is_valid_user_id
from apps.accounts.partition import Partition

from .hooks import HandlerOutcome
from .models import Extension as ExtensionRow
from .models import Installation, LifecycleRun
from .registry import get_registry
from .runtimes import run_kernel_handler
from .skeleton import forget_sections

logger = logging.getLogger(__name__)

Hook = LifecycleRun.Hook
Status = LifecycleRun.Status
TOOL_TYPE = "lifecycle"  # ctx._tool_type of a hook run
SYNC_ACTOR = "sync_extensions"
_NUMERIC_VERSION = re.compile(r"^\d+(\.\d+)*$")


def claim_installation(partition):
    """Return True when this call is the user's first use of the extension.

    One Installation row per partition, claimed by a conditional insert: of
    concurrent first calls exactly one gets True.
    """
    if Installation.objects.in_partition(partition).exists():
        return False
    try:
        with transaction.atomic():
            Installation.objects.create(**partition.fields())
    except IntegrityError:
        return False
    return True


async def ensure_installed(loaded, user, clock=None):
    """Claim the user's installation; on the first claim run ``on_install``.

    Return the LifecycleRun of the hook, or None (not the first use, or no hook).
    """
    partition = Partition(user.tenant_id, loaded.app_id, user.imperal_id)
    if not await sync_to_async(claim_installation)(partition):
        return None
    hook = loaded.ext.lifecycle.get(Hook.INSTALL)
    if hook is None:
        return None
    ctx = _context(loaded, user, clock)
    return await _run_and_record(loaded, Hook.INSTALL, hook.func, ctx, user.imperal_id)


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
            ctx = _context(loaded, user_context_for_id(user_id, tenant_id))
            run = async_to_sync(_run_and_record)(
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
    return async_to_sync(_run_and_record)(loaded, name, hook.func, ctx, actor)


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
                _timeout(loaded),
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
    _log(run)


async def _run_and_record(loaded, hook, func, ctx, actor):
    label = f"{loaded.app_id} {hook}"
    outcome = await run_kernel_handler(
        loaded, "hook", hook, label, func, ctx, _timeout(loaded)
    )
    return await sync_to_async(_record)(
        loaded.app_id, hook, ctx._partition, actor, outcome
    )


def _record(app_id, hook, partition, actor, outcome):
    run = LifecycleRun.objects.create(
        app_id=app_id,
        hook=hook,
        tenant_id=partition.tenant_id,
        user_id=partition.user_id,
        actor=actor,
        status=outcome.status,
        result=outcome.result,
        error=outcome.error,
        duration_ms=outcome.duration_ms,
    )
    _log(run)
    return run


def _skipped(
    app_id, hook, partition, actor, why="extension is disabled by an operator"
):
    outcome = HandlerOutcome(Status.SKIPPED, error=why)
    return _record(app_id, hook, partition, actor, outcome)


def _log(run):
    level = logging.INFO if run.status == Status.SUCCESS else logging.WARNING
    logger.log(
        level,
        "%s %s by %s: %s %s",
        run.app_id,
        run.hook,
        run.actor or "?",
        run.status,
        run.error,
    )


def _context(loaded, user, clock=None):
    from .context import build_context

    return build_context(loaded.ext, user, tool_type=TOOL_TYPE, clock=clock)


def _system_context(loaded, tenant_id=None):
    from django.conf import settings

    tenant = tenant_id or settings.IMPERAL_DEFAULT_TENANT
    return _context(loaded, system_user_context(tenant))


def _timeout(loaded):
    from .invocation import handler_timeout

    return handler_timeout(loaded.app_id)


def _disabled(app_id):
    return ExtensionRow.objects.filter(app_id=app_id, enabled=False).exists()
