"""``@ext.skeleton`` sections: refreshed per user on their TTL, read through ctx.skeleton.

A section's value lives in a :class:`SkeletonSection` row, not in ctx.cache or
ctx.store: imperal-sdk makes the kernel its only writer, an alert needs the
previous value to survive a cache eviction (or it would fire on every
eviction), operators must see the value and its refresh time, and the user's
own ctx.store collections stay the extension's. A refresh claims the row with a
conditional update (a lease), so concurrent beats or readers run it once.
"""

import datetime
import inspect
import json
import logging
from dataclasses import dataclass

from asgiref.sync import async_to_sync, sync_to_async
from django.db.models import Exists, F, OuterRef, Q
from imperal_sdk.types.action_result import ActionResult

from apps.accounts.identity import system_user_context
from apps.accounts.ids import InvalidUserId
from apps.accounts.security import PRIVILEGED_IDS

from .context import build_context
from .hooks import HandlerOutcome, accepted_kwargs
from .limits import handler_timeout
from .models import Extension as ExtensionRow
from .models import Installation, Outcome, SkeletonSection
from .registry import get_registry
from .runtimes import run_kernel_handler

logger = logging.getLogger(__name__)

VALUE_MAX_BYTES = 64 * 1024  # a section is a compact snapshot, not a dataset
REFRESH_BATCH = 200  # sections one beat tick refreshes per extension
LEASE_GRACE_SECONDS = 30  # past the refresh's timeout, before another may take it
RESPONSE_KEY = "response"
Status = SkeletonSection.Status


@dataclass
class SkeletonReader:
    """The raw client behind ``ctx.skeleton`` (imperal-sdk guards it): one partition."""

    ext: object
    partition: object
    clock: object

    async def get(self, section):
        """Return the section's value, refreshed first when stale; None if unknown."""
        return await read_section(self.ext.app_id, self.partition, section, self.clock)

    def __repr__(self):
        return f"<ctx.skeleton {self.partition}>"


async def read_section(app_id, partition, section, clock):
    """Return ``section``'s value for ``partition`` (None: unknown or never refreshed).

    A stale section nobody is refreshing is refreshed first; one being
    refreshed (by this very call chain, say) answers its last value.
    """
    loaded = get_registry().get(app_id)
    spec = loaded.skeleton_sections().get(section) if loaded else None
    if spec is None or partition.user_id in PRIVILEGED_IDS:
        return None
    row = await sync_to_async(_row)(partition, section)
    if row is None or row.due_at <= clock():
        refreshed = await refresh_section(loaded, spec, partition, clock)
        row = refreshed or await sync_to_async(_row)(partition, section)
    return row.value if row is not None else None


async def refresh_section(loaded, spec, partition, clock, system_ctx=None):
    """Refresh one user's section if it is stale and free; return its row, or None.

    Runs ``skeleton_refresh_<section>`` as that user (``tool_type="skeleton"``,
    scoped from a system context), stores its ``response`` and, when the value
    changed from a previous one, runs ``skeleton_alert_<section>(old=, new=)``.
    """
    timeout = handler_timeout(loaded.app_id)
    now = clock()
    row = await sync_to_async(_claim)(partition, spec.section, now, timeout)
    if row is None:
        return None
    system_ctx = system_ctx or skeleton_system_context(
        loaded, partition.tenant_id, clock
    )
    try:
        ctx = system_ctx.as_user(partition.user_id)
    except InvalidUserId as exc:
        # A user stored before the user-id rule: a failed refresh, so the row
        # waits its TTL instead of heading every batch.
        failed = HandlerOutcome(Outcome.FAILED, error=str(exc))
        return await sync_to_async(_store)(row, spec, now, failed, None, failed.error)
    label = f"{loaded.app_id} {spec.refresh.name} for {partition.user_id}"
    outcome = await run_kernel_handler(
        loaded, "skeleton", spec.refresh.name, label, _refresh_of(spec), ctx, timeout
    )
    value, error = _response_of(spec, outcome)
    previous, had_value = row.value, row.refreshed_at is not None
    stored = await sync_to_async(_store)(row, spec, now, outcome, value, error)
    if stored is None or error:
        return stored
    if spec.alert is not None and had_value and value != previous:
        alert = await run_kernel_handler(
            loaded,
            "skeleton",
            spec.alert.name,
            f"{loaded.app_id} {spec.alert.name} for {partition.user_id}",
            spec.alert.func,
            ctx,
            timeout,
            **accepted_kwargs(spec.alert.func, {"old": previous, "new": value}),
        )
        await sync_to_async(_record_alert)(stored, alert, clock())
    return stored


def skeleton_system_context(loaded, tenant_id, clock):
    """Return the system context refreshes of ``loaded`` fan out from."""
    return build_context(
        loaded.ext, system_user_context(tenant_id), tool_type="skeleton", clock=clock
    )


def refresh_due(now_clock, batch=REFRESH_BATCH):
    """Refresh the stale sections of every enabled extension's installed users.

    The beat task's body (a system context per tenant, fanning out); return
    {app_id: sections refreshed}. At most ``batch`` per extension per call.
    """
    disabled = set(ExtensionRow.objects.disabled_app_ids())
    done = {}
    for loaded in get_registry():
        specs = loaded.skeleton_sections()
        if not specs or loaded.app_id in disabled:
            continue
        _add_missing_sections(loaded.app_id, specs, now_clock())
        done[loaded.app_id] = async_to_sync(_refresh_batch)(
            loaded, specs, now_clock, batch
        )
    return done


async def _refresh_batch(loaded, specs, clock, batch):
    rows = await sync_to_async(_due_rows)(loaded.app_id, list(specs), clock(), batch)
    contexts, refreshed = {}, 0
    for tenant_id, user_id, section in rows:
        if tenant_id not in contexts:
            contexts[tenant_id] = skeleton_system_context(loaded, tenant_id, clock)
        partition = contexts[tenant_id]._partition.for_user(user_id)
        row = await refresh_section(
            loaded, specs[section], partition, clock, contexts[tenant_id]
        )
        refreshed += row is not None
    return refreshed


def forget_sections(partition):
    """Delete ``partition``'s skeleton sections; return how many."""
    return _rows(partition).delete()[0]


def _rows(partition, section=None):
    rows = SkeletonSection.objects.in_partition(partition)
    return rows if section is None else rows.filter(section=section)


def _row(partition, section):
    return _rows(partition, section).first()


def _free(now):
    return Q(lease_until__isnull=True) | Q(lease_until__lt=now)


def _claim(partition, section, now, timeout):
    """Lease the stale section (creating its row); return the row, or None if held."""
    SkeletonSection.objects.bulk_create(
        [SkeletonSection(**partition.fields(), section=section, due_at=now)],
        ignore_conflicts=True,
    )
    lease = now + datetime.timedelta(seconds=timeout + LEASE_GRACE_SECONDS)
    rows = _rows(partition, section)
    if rows.filter(_free(now), due_at__lte=now).update(lease_until=lease) != 1:
        return None
    return rows.get()


def _store(row, spec, now, outcome, value, error):
    """Write the refresh's outcome under the row's lease; return the row, or None."""
    values = {
        "status": Status.SUCCESS if not error else _failed_status(outcome),
        "error": error,
        "duration_ms": outcome.duration_ms,
        "due_at": now + datetime.timedelta(seconds=spec.ttl),
        "lease_until": None,
        "refreshes": F("refreshes") + 1,
    }
    if not error:
        values.update(value=value, refreshed_at=now)
    held = SkeletonSection.objects.filter(pk=row.pk, lease_until=row.lease_until)
    if held.update(**values) != 1:
        logger.error("skeleton %s: the refresh outlived its lease; not stored", row)
        return None
    return SkeletonSection.objects.get(pk=row.pk)


def _record_alert(row, alert, now):
    last = alert.result if alert.ok else {"status": alert.status, "error": alert.error}
    if len(json.dumps(last, default=str)) > VALUE_MAX_BYTES:
        last = {"status": alert.status, "error": "alert result over VALUE_MAX_BYTES"}
    SkeletonSection.objects.filter(pk=row.pk).update(
        alerts=F("alerts") + 1, alerted_at=now, last_alert=last
    )


class RefreshReturnedError(Exception):
    """A refresh returned ``ActionResult.error(...)``: the section keeps its value."""


def _refresh_of(spec):
    """Return the refresh handler of ``spec``, taking an ActionResult as its answer.

    imperal-sdk never checks what a refresh returns, and extensions return
    ``ActionResult.success(data=..., summary=...)``: its ``data`` is the
    section's value. An ActionResult of any other status raises
    RefreshReturnedError with its error. Anything else is returned as it is,
    for the plain ``{"response": ...}`` contract to judge.
    """
    func, name = spec.refresh.func, spec.refresh.name

    async def refresh(ctx, **kwargs):
        result = func(ctx, **kwargs)
        if inspect.isawaitable(result):
            result = await result
        if not isinstance(result, ActionResult):
            return result
        if result.status != "success":
            raise RefreshReturnedError(
                f"{name} returned an ActionResult with status {result.status!r}: "
                f"{result.error or 'no error message'}"
            )
        return {RESPONSE_KEY: result.data}

    return refresh


def _response_of(spec, outcome):
    """Return (value, error) of a refresh: its ``response``, or why there is none."""
    if not outcome.ok:
        return None, outcome.error
    result = outcome.result
    if not isinstance(result, dict) or RESPONSE_KEY not in result:
        return None, (
            f"{spec.refresh.name} must return {{'response': ...}} (imperal-sdk's "
            f"skeleton contract) or ActionResult.success(data=...), got "
            f"{json.dumps(result, default=str)[:120]}"
        )
    size = len(json.dumps(result[RESPONSE_KEY], separators=(",", ":")))
    if size > VALUE_MAX_BYTES:
        return None, (
            f"{spec.refresh.name}'s response is {size} bytes of JSON; a skeleton "
            f"section holds at most {VALUE_MAX_BYTES} (VALUE_MAX_BYTES)"
        )
    return result[RESPONSE_KEY], ""


def _failed_status(outcome):
    return Status.TIMEOUT if outcome.status == Outcome.TIMEOUT else Status.FAILED


def _add_missing_sections(app_id, specs, now):
    """Create due rows for installed users' sections that have none yet."""
    installed = Installation.objects.filter(app_id=app_id)
    for section in specs:
        existing = SkeletonSection.objects.filter(
            tenant_id=OuterRef("tenant_id"),
            app_id=app_id,
            user_id=OuterRef("user_id"),
            section=section,
        )
        missing = installed.filter(~Exists(existing)).values_list(
            "tenant_id", "user_id"
        )
        SkeletonSection.objects.bulk_create(
            [
                SkeletonSection(
                    tenant_id=t, app_id=app_id, user_id=u, section=section, due_at=now
                )
                for t, u in missing.iterator()
            ],
            batch_size=REFRESH_BATCH,
            ignore_conflicts=True,
        )


def _due_rows(app_id, sections, now, batch):
    return list(
        SkeletonSection.objects.filter(
            _free(now), app_id=app_id, section__in=sections, due_at__lte=now
        )
        .order_by("due_at", "id")
        .values_list("tenant_id", "user_id", "section")[:batch]
    )
