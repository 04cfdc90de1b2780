"""Run a tool or panel for a user, or a schedule handler in system context.

Everything that can be refused is checked in :func:`prepare_tool` /
:func:`prepare_schedule` (synchronous: registry, operator switch, user,
declared scopes, params) before any handler runs; the returned call is then
awaited. A user's first call of an extension runs its ``on_install`` first.
The CLI, the REST API, webhooks and Celery all go through here.
"""

import asyncio
import contextlib
import logging
import time
import traceback
from dataclasses import dataclass, field

from django.conf import settings

from apps.accounts.identity import system_user_context, user_context
from apps.accounts.ids import check_user_id
from apps.accounts.models import User
from apps.accounts.partition import Partition
from apps.accounts.security import PRIVILEGED_IDS
from apps.common.telemetry import context as request_context
from apps.common.telemetry import metrics, tracing
from apps.secrets.core import Vault

from .context import build_context
from .errors import (
    ExtensionDisabled,
    ExtensionNotFound,
    HandlerFailed,
    HandlerTimeout,
    InvocationError,
    ReservedUserId,
    SecretMissing,
    UserNotFound,
)
from .installation import ensure_installed
from .limits import handler_timeout
from .models import Extension as ExtensionRow
from .models import Outcome
from .params import signature_of
from .registry import get_registry
from .runtimes import (
    context_invocation,
    invocation_for,
    note_fan_out,
    raise_for_failure,
    run_isolated,
    runtime_for,
)
from .scopes import require_scopes, with_capabilities
from .secrets_panel import render_secrets_panel
from .serialization import to_jsonable

logger = logging.getLogger(__name__)

# imperal-sdk registers this panel for every extension declaring a secret.
SECRETS_PANEL = "secrets"


@dataclass
class PreparedCall:
    """A validated handler call: ``await call.run()`` returns the JSON-ready result.

    ``app_id``, ``kind`` ("tool" or "panel") and ``name`` say what it calls, for
    its metrics and its span (which never carry its params).
    """

    label: str
    func: object
    ctx: object
    kwargs: dict = field(default_factory=dict)
    timeout: float = None
    # Awaited before the handler (a user's first use runs on_install); its
    # failure is recorded by it, never raised.
    before: object = None
    app_id: str = ""
    kind: str = "tool"
    name: str = ""
    # Set for an isolated extension: the runtime its Invocation goes to, in
    # place of awaiting ``func`` here.
    runtime: object = None
    invocation: object = None
    # Where an isolated call's ctx.progress reports go (the caller's sink), if any.
    progress: object = None

    async def run(self):
        """Run the handler; return its result as JSON values.

        Raises HandlerTimeout past ``timeout`` seconds (the handler is
        cancelled), HandlerFailed when it raises. Each run is counted and
        timed (imperal_tool_calls_total, imperal_tool_call_seconds) and, when
        tracing is on, spanned.
        """
        if self.before is not None:
            await self.before()
        attributes = {
            "imperal.app": self.app_id,
            "imperal.kind": self.kind,
            "imperal.handler": self.name,
        }
        started, failure = time.perf_counter(), None
        try:
            with tracing.span(f"invoke {self.label}", **attributes):
                result = await self._run_handler()
        except BaseException as exc:
            failure = exc
            raise
        finally:
            seconds = time.perf_counter() - started
            metrics.tool_called(self.app_id, self.kind, self.name, failure, seconds)
        return to_jsonable(result)

    async def _run_handler(self):
        if self.runtime is not None:
            outcome = await run_isolated(
                self.runtime, self.invocation, progress=self.progress
            )
            return raise_for_failure(self.invocation, outcome)
        try:
            return await asyncio.wait_for(
                _maybe_await(self.func(self.ctx, **self.kwargs)), self.timeout
            )
        except TimeoutError as exc:
            logger.warning("%s timed out after %s s", self.label, self.timeout)
            raise HandlerTimeout(self.label, self.timeout) from exc
        except Exception as exc:
            raise HandlerFailed(self.label, exc) from exc


@contextlib.contextmanager
def _refusals_counted(app_id, kind, name):
    """Count a call refused before its handler ran (imperal_tool_calls_total)."""
    try:
        yield
    except InvocationError as exc:
        metrics.tool_called(app_id, kind, name, exc)
        raise


def prepare_tool(
    app_id,
    tool_name,
    user_id,
    params=None,
    *,
    tenant_id=None,
    clock=None,
    progress=None,
):
    """Return a PreparedCall of tool ``tool_name`` for user ``user_id``.

    Raises ExtensionNotFound, ExtensionDisabled, HandlerNotFound (or
    FeatureNotServed), InvalidUserId (a ValueError: the id breaks the user-id
    rule), UserNotFound, ScopeForbidden, InvalidParams or SecretMissing (a
    ``required`` secret is not set); nothing has run when it does.
    """
    with _refusals_counted(app_id, "tool", tool_name):
        loaded = enabled_extension(app_id)
        handler = loaded.tool(tool_name)
        return _prepare(
            loaded,
            handler,
            f"{app_id}.{tool_name}",
            "tool",
            user_id,
            params,
            tenant_id,
            clock,
            progress,
        )


def prepare_panel(
    app_id, panel_id, user_id, params=None, *, tenant_id=None, clock=None, progress=None
):
    """Return a PreparedCall of panel ``panel_id``; raises as :func:`prepare_tool`.

    The secrets panel (imperal-sdk's, where a user sets the secrets) renders
    whatever is missing.
    """
    with _refusals_counted(app_id, "panel", panel_id):
        loaded = enabled_extension(app_id)
        return _prepare(
            loaded,
            loaded.panel(panel_id),
            f"{app_id} panel {panel_id}",
            "panel",
            user_id,
            params,
            tenant_id,
            clock,
            progress,
            needs_secrets=panel_id != SECRETS_PANEL,
        )


@dataclass
class ScheduleOutcome:
    """What one run of a schedule handler did."""

    app_id: str
    schedule: str
    status: str  # an Outcome
    started_at: float
    duration_ms: float
    users_fanned_out: int
    result: object = None
    error: str = ""
    traceback: str = ""

    def as_dict(self):
        return {
            "app_id": self.app_id,
            "schedule": self.schedule,
            "status": self.status,
            "duration_ms": round(self.duration_ms, 3),
            "users_fanned_out": self.users_fanned_out,
            "result": self.result,
            "error": self.error,
        }


def prepare_schedule(
    app_id, schedule_name, *, tenant_id=None, clock=None, progress=None, fanout=None
):
    """Return (handler, system ctx) for one schedule; raises like :func:`prepare_tool`.

    ``fanout`` (an apps.extensions.fanout.FanOut, e.g. a fire's delivery
    ledger) tracks and records the users the handler fans out to.
    """
    loaded = enabled_extension(app_id)
    definition = loaded.schedule(schedule_name)
    tenant_id = tenant_id or settings.IMPERAL_DEFAULT_TENANT
    ctx = build_context(
        loaded.ext,
        system_user_context(tenant_id),
        tool_type="schedule",
        clock=clock,
        progress=progress,
        fanout=fanout,
    )
    return definition.func, ctx


async def run_schedule_handler(app_id, schedule_name, handler, ctx, *, timeout=None):
    """Run ``handler(ctx)`` under ``timeout`` seconds; return a ScheduleOutcome, never raise.

    An isolated extension's handler runs in a worker (apps.runtime); the users
    it acted for are told to ``ctx``'s FanOut when it answers.
    """
    started = time.time()
    clock = time.perf_counter()
    status, result, error, trace = Outcome.SUCCESS, None, "", ""
    loaded = get_registry().get(app_id)
    runtime = runtime_for(loaded) if loaded is not None else None
    try:
        if runtime is not None:
            result = await _run_schedule_isolated(
                runtime, loaded, schedule_name, ctx, timeout
            )
        else:
            result = to_jsonable(
                await asyncio.wait_for(_maybe_await(handler(ctx)), timeout)
            )
    except TimeoutError:
        status, error = Outcome.TIMEOUT, f"exceeded its timeout of {timeout} s"
    except Exception as exc:
        status, error, trace = (
            Outcome.FAILED,
            f"{type(exc).__name__}: {exc}",
            traceback.format_exc(),
        )
    return ScheduleOutcome(
        app_id=app_id,
        schedule=schedule_name,
        status=status,
        started_at=started,
        duration_ms=(time.perf_counter() - clock) * 1000,
        users_fanned_out=ctx._fanned_out_count,
        result=result,
        error=error,
        traceback=trace,
    )


async def _run_schedule_isolated(runtime, loaded, schedule_name, ctx, timeout):
    """Return what the schedule returned in its worker; raise as the in-process run."""
    label = f"{loaded.app_id}.{schedule_name}"
    timeout = timeout or settings.IMPERAL_SCHEDULE_TIMEOUT
    invocation = context_invocation(
        loaded, "schedule", schedule_name, label, ctx, timeout
    )
    outcome = await run_isolated(
        runtime, invocation, fanout=ctx._fanout, progress=ctx._progress_callback
    )
    note_fan_out(ctx, outcome)
    if outcome.status == "timeout":
        raise TimeoutError(outcome.error.message)
    return raise_for_failure(invocation, outcome)


def enabled_extension(app_id):
    """Return the LoadedExtension ``app_id``; ExtensionNotFound or ExtensionDisabled."""
    loaded = get_registry().get(app_id)
    if loaded is None:
        raise ExtensionNotFound(app_id)
    if ExtensionRow.objects.is_disabled(app_id):
        raise ExtensionDisabled(app_id)
    return loaded


def _prepare(
    loaded,
    handler,
    label,
    kind,
    user_id,
    params,
    tenant_id,
    clock,
    progress,
    needs_secrets=True,
):
    user = with_capabilities(_user(user_id, tenant_id), loaded.ext)
    request_context.annotate_call(
        loaded.app_id, handler.name, user.tenant_id, user.imperal_id
    )
    require_scopes(label, handler, user, loaded.app_id)
    kwargs = signature_of(handler.signature).bind(label, params)
    if needs_secrets:
        _require_secrets(loaded, user, label)
    ctx = build_context(
        loaded.ext, user, tool_type=handler.tool_type, clock=clock, progress=progress
    )
    timeout = handler_timeout(loaded.app_id)
    # imperal-sdk's secrets panel is the platform's own code: it runs here.
    runtime = runtime_for(loaded) if handler.func is not render_secrets_panel else None
    invocation = None
    if runtime is not None:
        kind_of_call = "chat" if handler.tool_type == "chat_fn" else kind
        # The worker binds the validated JSON params to typed values again.
        invocation = invocation_for(
            loaded.app_id,
            kind_of_call,
            handler,
            user,
            params or {},
            timeout,
            label,
            ctx.config.all(),
        )
    return PreparedCall(
        label=label,
        func=handler.func,
        ctx=ctx,
        kwargs=kwargs,
        timeout=timeout,
        before=lambda: ensure_installed(loaded, user, clock),
        app_id=loaded.app_id,
        kind=kind,
        name=handler.name,
        runtime=runtime,
        invocation=invocation,
        progress=progress,
    )


def _require_secrets(loaded, user, label):
    """Raise SecretMissing when a ``required`` secret of the extension is not set."""
    partition = Partition(user.tenant_id, loaded.app_id, user.imperal_id)
    missing = Vault().first_missing(partition, loaded.ext.secrets)
    if missing is not None:
        raise SecretMissing(loaded.app_id, label, missing)


def _user(user_id, tenant_id):
    if user_id in PRIVILEGED_IDS:
        # Kernel contexts may address other users; no user may be one.
        raise ReservedUserId(user_id)
    check_user_id(user_id, "a call's user")
    users = User.objects.filter(imperal_id=user_id, is_active=True)
    if tenant_id:
        users = users.filter(tenant_id=tenant_id)
    user = users.first()
    if user is None:
        raise UserNotFound(user_id)
    return user_context(user)


async def _maybe_await(value):
    if asyncio.iscoroutine(value) or isinstance(value, asyncio.Future):
        return await value
    return value
