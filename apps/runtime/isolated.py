"""Run an invocation in one of its extension's workers: the isolated runtime.

The kernel resolves, authorizes and validates the call as for any runtime, then
hands the plain-data Invocation here. It is queued for the extension's workers
with a call token minted for it, and its Outcome is whatever reply comes back
by its deadline. What can go wrong on the way has its own error:

- the queue is full: RuntimeBusy (503 ``runtime_busy``, Retry-After), nothing queued;
- no worker claimed it by the deadline: NoWorker (503), withdrawn, never run;
- a worker took it and the deadline passed: a TIMEOUT Outcome (the supervisor
  kills that worker and starts another);
- the worker died holding it: a FAILED Outcome of category ``infrastructure``
  (the supervisor answers for the dead worker); the call is never re-run.
"""

from dataclasses import replace

from asgiref.sync import sync_to_async
from django.conf import settings
from imperal_sdk.rpc import RpcErrorCategory

from apps.common.errors import CodedError

from .credentials import call_token_for
from .dispatch import get_dispatch
from .dispatch.base import DispatchError, RuntimeBusy
from .progress import ProgressRelay
from .worker.envelope import TIMEOUT, Outcome, OutcomeError, outcome_of


class NoWorker(CodedError, Exception):
    """No worker of the extension claimed a call before its deadline; it never ran."""

    code = "unavailable"
    retry_after = 5

    def __init__(self, invocation):
        super().__init__(
            f"{invocation.label or invocation.app_id}: no worker of isolated extension "
            f"{invocation.app_id!r} took the call within {invocation.timeout:g} s; it "
            "did not run (are its workers running? manage.py run_workers)"
        )


# What the runtime raises when it did not take a call (nothing ran).
REFUSALS = (RuntimeBusy, NoWorker, DispatchError)


class IsolatedRuntime:
    """Dispatch invocations to workers; ``dispatch`` defaults to get_dispatch()."""

    name = "isolated"

    def __init__(self, dispatch=None):
        self.dispatch = dispatch or get_dispatch()

    async def run(self, invocation, *, fanout=None, progress=None):
        """Return the Outcome of ``invocation``; raise RuntimeBusy or NoWorker.

        ``fanout`` (a fire's delivery ledger) gives the call its FanOutScope:
        the gateway limits its ``list_users``/``query_all`` to the shard, skips
        users already delivered and records the ones it reports. ``progress``
        (async ``(percent, message)``) receives the worker's ``ctx.progress``
        reports while the call runs.
        """
        scope = getattr(fanout, "scope", None)
        invocation = replace(invocation, fan_out=scope, progress=progress is not None)
        call = sync_to_async(self.run_sync, thread_sensitive=True)(invocation)
        if progress is None:
            return await call
        return await ProgressRelay(invocation.call_id, progress).forward_until(call)

    def run_sync(self, invocation):
        """:meth:`run`, blocking the calling thread."""
        options = settings.IMPERAL_RUNTIME
        token = call_token_for(invocation, settings.IMPERAL_CALL_TOKEN_MAX_LIFETIME)
        request = invocation.to_request(token)
        self.dispatch.submit(request, options["QUEUE_BOUND"], options["RETRY_AFTER"])
        reply = self.dispatch.wait(request, invocation.timeout)
        if reply is not None:
            return outcome_of(reply)
        if self.dispatch.withdraw(request):
            raise NoWorker(invocation)
        # A worker holds it past the deadline: its reply (if any) is late.
        return Outcome(
            TIMEOUT,
            error=OutcomeError(
                RpcErrorCategory.TIMEOUT.value,
                f"did not finish within {invocation.timeout:g} s; its worker is "
                "killed and replaced",
            ),
            duration_ms=invocation.timeout * 1000,
        )
