"""A worker's loop: claim a call, run its handler with a gateway-backed ctx, reply."""

import asyncio
import inspect
import logging
import time
from dataclasses import replace

from imperal_sdk.rpc import RpcErrorCategory

from .binding import HandlerSignature
from .context import build_worker_context
from .envelope import (
    FAILED,
    SUCCESS,
    TIMEOUT,
    Outcome,
    OutcomeError,
    invocation_of,
)
from .jsonable import to_jsonable
from .loading import find_handler, skeleton_answer

logger = logging.getLogger("imperal.worker")
ERROR_MAX_CHARS = 2000


class Worker:
    """Runs one extension's calls, one at a time, until :meth:`stop`."""

    def __init__(self, ext, dispatch, gateway_url):
        self.ext = ext
        self.dispatch = dispatch
        self.gateway_url = gateway_url
        self.loop = asyncio.new_event_loop()
        self.stopping = False

    def stop(self, *args):
        self.stopping = True

    def run_forever(self):
        """Claim and run calls until stopped; raise DispatchGone when the gateway does."""
        while not self.stopping:
            request = self.dispatch.claim()
            if request is not None:
                self.dispatch.reply(self.handle(request))

    def handle(self, request):
        """Return the RpcReply of one claimed RpcRequest (never raises for the handler)."""
        started_ns = time.time_ns()
        invocation, call_token = invocation_of(request)
        remaining = (request.deadline_ns - started_ns) / 1e9
        outcome = self.loop.run_until_complete(
            self._outcome(invocation, call_token, remaining)
        )
        return outcome.to_reply(request.corr_id, self.dispatch.worker_id, started_ns)

    async def _outcome(self, invocation, call_token, remaining):
        started = time.perf_counter()
        try:
            func, signed = find_handler(self.ext, invocation.kind, invocation.name)
            kwargs = HandlerSignature(signed).kwargs_of(invocation.kwargs)
            users = []  # whom ctx.as_user scoped to, in order
            ctx = build_worker_context(
                self.ext,
                invocation,
                call_token,
                self.gateway_url,
                invocation.config,
                users,
            )
            result = await asyncio.wait_for(
                _call(func, ctx, kwargs), max(0.0, remaining)
            )
            if invocation.kind == "skeleton":
                result = skeleton_answer(invocation.name, result)
            unique = tuple(dict.fromkeys(users))
            outcome = Outcome(
                SUCCESS, to_jsonable(result), fanned_out=len(unique), users=unique
            )
        except TimeoutError:
            outcome = Outcome(
                TIMEOUT,
                error=OutcomeError(
                    RpcErrorCategory.TIMEOUT.value,
                    f"did not finish within {invocation.timeout:g} s and was cancelled",
                ),
            )
        except Exception as exc:  # an extension's handler may raise anything
            outcome = Outcome(
                FAILED,
                error=OutcomeError(
                    RpcErrorCategory.APPLICATION.value,
                    str(exc)[:ERROR_MAX_CHARS],
                    error_type=type(exc).__name__,
                ),
            )
            logger.warning(
                "%s failed: %s: %s", invocation.label, type(exc).__name__, exc
            )
        elapsed = (time.perf_counter() - started) * 1000
        return replace(outcome, duration_ms=elapsed)


async def _call(func, ctx, kwargs):
    async with ctx._link.running():  # the kernel's ledger and progress, closed
        result = func(ctx, **kwargs)
        if inspect.isawaitable(result):
            return await result
        return result
