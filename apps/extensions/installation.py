"""A user's installation of an extension, and the LifecycleRun each hook run leaves.

A user's first call of an extension claims their Installation and runs
``on_install`` (:func:`ensure_installed`, a step of every call's pipeline);
:mod:`apps.extensions.lifecycle` runs the other hooks and records them here too.
"""

import logging

from asgiref.sync import sync_to_async
from django.db import IntegrityError, transaction

from apps.accounts.partition import Partition

from .context import build_context
from .limits import handler_timeout
from .models import Installation, LifecycleRun
from .runtimes import run_kernel_handler

logger = logging.getLogger(__name__)

Hook = LifecycleRun.Hook
Status = LifecycleRun.Status
TOOL_TYPE = "lifecycle"  # ctx._tool_type of a hook run


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
    ctx = hook_context(loaded, user, clock)
    return await run_and_record(loaded, Hook.INSTALL, hook.func, ctx, user.imperal_id)


def hook_context(loaded, user, clock=None):
    """Return the context a lifecycle hook of ``loaded`` runs in as ``user``."""
    return build_context(loaded.ext, user, tool_type=TOOL_TYPE, clock=clock)


async def run_and_record(loaded, hook, func, ctx, actor):
    """Run ``func(ctx)`` as ``hook`` of ``loaded`` where it runs (in-process or in
    a worker); return its LifecycleRun.

    Never raises for the hook's failure: it is recorded.
    """
    label = f"{loaded.app_id} {hook}"
    outcome = await run_kernel_handler(
        loaded, "hook", hook, label, func, ctx, handler_timeout(loaded.app_id)
    )
    return await sync_to_async(record_run)(
        loaded.app_id, hook, ctx._partition, actor, outcome
    )


def record_run(app_id, hook, partition, actor, outcome):
    """Store and log the LifecycleRun of ``outcome`` (a HandlerOutcome); return it."""
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
    log_run(run)
    return run


def log_run(run):
    """Log how a LifecycleRun ended: INFO on success, WARNING otherwise."""
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
