"""Where a call runs: the seam between the kernel's pipeline and a runtime.

Every refusal happens before a call reaches here (resolve, authorize, validate,
required secrets, install hook). :func:`runtime_for` then says where the
handler runs: ``in-process`` (today's path in apps.extensions.invocation:
the handler awaited here, under a timeout that cancels it only at an await)
or ``isolated`` (apps.runtime: a worker process of the extension's own, killed
at the deadline). The choice is IMPERAL_EXTENSION_RUNTIME; an extension it
does not name runs in-process when it is a bundled sample (under the
checkout's ``extensions/``) and as IMPERAL_EXTENSION_RUNTIME_DEFAULT says
otherwise.
"""

from pathlib import Path

from django.conf import settings
from imperal_sdk.rpc import RpcErrorCategory

from apps.common.webhook_origin import webhook_base_url
from apps.runtime.config import IN_PROCESS, ISOLATED, check_runtime_choice
from apps.runtime.isolated import REFUSALS, IsolatedRuntime
from apps.runtime.worker.envelope import Identity, Invocation

from .errors import HandlerFailed, HandlerTimeout, InvocationError
from .hooks import HandlerOutcome, run_handler
from .models import Outcome
from .serialization import to_jsonable


def is_bundled(loaded):
    """Return whether ``loaded`` is one of the checkout's bundled samples."""
    if loaded.root is None:
        return False
    bundled = (Path(settings.BASE_DIR) / "extensions").resolve()
    return Path(loaded.root).resolve().is_relative_to(bundled)


def runtime_name(loaded):
    """Return "in-process" or "isolated": where ``loaded``'s handlers run."""
    configured = settings.IMPERAL_EXTENSION_RUNTIME.get(loaded.app_id)
    if configured is not None:
        key = f"IMPERAL_EXTENSION_RUNTIME[{loaded.app_id!r}]"
        return check_runtime_choice(key, configured)
    if is_bundled(loaded):
        return IN_PROCESS
    return check_runtime_choice(
        "IMPERAL_EXTENSION_RUNTIME_DEFAULT", settings.IMPERAL_EXTENSION_RUNTIME_DEFAULT
    )


def is_isolated(loaded):
    return runtime_name(loaded) == ISOLATED


def runtime_for(loaded):
    """Return the runtime ``loaded``'s calls go to: an IsolatedRuntime, or None
    for in-process (the caller awaits the handler itself)."""
    return IsolatedRuntime() if is_isolated(loaded) else None


def invocation_for(app_id, kind, handler, user, kwargs, timeout, label, config=None):
    """Return the Invocation of a validated call of ``handler`` as ``user``."""
    return Invocation(
        app_id=app_id,
        kind=kind,
        name=handler.name,
        identity=Identity.of(user),
        kwargs=kwargs,
        timeout=timeout,
        label=label,
        tool_type=handler.tool_type,
        config=dict(config or {}),
        webhook_base=webhook_base_url(),
    )


class RemoteHandlerError(Exception):
    """What a handler raised in its worker, as the worker reported it."""


class WorkerLost(InvocationError):
    """The worker running a call died before answering; the call was not re-run."""

    code = "handler_failed"

    def __init__(self, label, message):
        super().__init__(
            f"{label} failed: its worker was lost mid-call ({message}); the call "
            "was not re-run, and what it did before is kept"
        )


class RuntimeRefused(InvocationError):
    """The isolated runtime did not take a call (its queue full, no worker took it,
    its dispatch down): nothing ran. Keeps the runtime's code and Retry-After."""

    def __init__(self, exc):
        super().__init__(str(exc))
        self.code = exc.code
        self.retry_after = getattr(exc, "retry_after", None)


async def run_isolated(runtime, invocation, *, fanout=None, progress=None):
    """Return the Outcome of ``invocation`` in ``runtime``; raise RuntimeRefused.

    ``fanout`` (a fire's ledger) and ``progress`` (the call's progress sink)
    are what the kernel lends the run while it runs (IsolatedRuntime.run).
    """
    try:
        return await runtime.run(invocation, fanout=fanout, progress=progress)
    except REFUSALS as exc:
        raise RuntimeRefused(exc) from exc


def raise_for_failure(invocation, outcome):
    """Return ``outcome.result``; raise HandlerTimeout, WorkerLost or HandlerFailed."""
    if outcome.ok:
        return outcome.result
    label = invocation.label
    if outcome.status == "timeout":
        raise HandlerTimeout(label, invocation.timeout)
    if outcome.error.category == RpcErrorCategory.INFRASTRUCTURE.value:
        raise WorkerLost(label, outcome.error.message)
    failure = HandlerFailed(label, RemoteHandlerError(outcome.error.message))
    failure.args = (f"{label} failed: {outcome.error.message}",)
    raise failure


async def run_kernel_handler(loaded, kind, name, label, func, ctx, timeout, **kwargs):
    """Run a kernel-called handler (hook, skeleton, health check) where ``loaded``
    runs; return a HandlerOutcome, never raise for the handler or the runtime.

    In-process it is hooks.run_handler; isolated, the handler ``name`` of kind
    ``kind`` runs in a worker with ``ctx``'s identity and config.
    """
    runtime = runtime_for(loaded)
    if runtime is None:
        return await run_handler(label, func, ctx, timeout, **kwargs)
    invocation = context_invocation(loaded, kind, name, label, ctx, timeout, kwargs)
    try:
        outcome = await run_isolated(runtime, invocation)
    except RuntimeRefused as exc:  # busy, no worker, dispatch down: nothing ran
        return HandlerOutcome(Outcome.FAILED, error=str(exc), exc=exc)
    return handler_outcome(outcome)


def context_invocation(loaded, kind, name, label, ctx, timeout, kwargs=None):
    """Return the Invocation of handler ``name`` run with ``ctx``'s identity."""
    return Invocation(
        app_id=loaded.app_id,
        kind=kind,
        name=name,
        identity=Identity.of(ctx.user),
        kwargs=to_jsonable(kwargs or {}),
        timeout=timeout,
        label=label,
        tool_type=ctx._tool_type,
        config=ctx.config.all(),
        webhook_base=webhook_base_url(),
    )


def handler_outcome(outcome):
    """Return the HandlerOutcome of a runtime's Outcome."""
    if outcome.ok:
        return HandlerOutcome(
            Outcome.SUCCESS, outcome.result, duration_ms=outcome.duration_ms
        )
    error = outcome.error.message if outcome.error else outcome.status
    return HandlerOutcome(outcome.status, error=error, duration_ms=outcome.duration_ms)


def note_fan_out(ctx, outcome):
    """Tell ``ctx``'s FanOut the users an isolated run acted for."""
    for user_id in outcome.users:
        ctx._fanout.scoped(user_id)
