"""A worker's loop: claim calls, run their handlers with a gateway-backed ctx, reply.

Up to ``concurrency`` calls run at once, as tasks of one event loop: while one
handler awaits the gateway, the next call is claimed and started. Claims and
replies go through the blocking GatewayDispatch on threads of the loop's
executor, so a slow answer from the gateway never stalls a running handler.
"""

import asyncio
import inspect
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from imperal_sdk.rpc import RpcErrorCategory

from .binding import signature_of
from .context import build_worker_context
from .envelope import (
    FAILED,
    SUCCESS,
    TIMEOUT,
    Outcome,
    OutcomeError,
    invocation_of,
)
from .gateway import DispatchGone
from .jsonable import to_jsonable
from .loading import find_handler, skeleton_answer

logger = logging.getLogger("imperal.worker")
ERROR_MAX_CHARS = 2000


class Worker:
    """Runs one extension's calls, up to ``concurrency`` at once, until :meth:`stop`."""

    def __init__(self, ext, dispatch, gateway_url, concurrency=1):
        if not isinstance(concurrency, int) or concurrency < 1:
            raise ValueError(
                f"concurrency must be an integer from 1, got {concurrency!r}"
            )
        self.ext = ext
        self.dispatch = dispatch
        self.gateway_url = gateway_url
        self.concurrency = concurrency
        self.loop = asyncio.new_event_loop()
        # A claim and a reply per running call may wait on the gateway at once.
        self.loop.set_default_executor(
            ThreadPoolExecutor(concurrency + 1, thread_name_prefix="gateway")
        )
        self.stopping = False
        self._gone = None  # the DispatchGone a reply raised, re-raised by run_forever

    def stop(self, *args):
        self.stopping = True

    def run_forever(self):
        """Claim and run calls until stopped, then let the running ones finish and
        reply; raise DispatchGone when the gateway refuses or goes away."""
        self.loop.run_until_complete(self._serve())
        if self._gone is not None:
            raise self._gone

    async def _serve(self):
        slots = asyncio.Semaphore(self.concurrency)
        running = set()
        try:
            while not self.stopping:
                await slots.acquire()
                request = await self._claim(slots)
                if request is None:
                    continue
                task = asyncio.create_task(self._run_and_reply(request, slots))
                running.add(task)
                task.add_done_callback(running.discard)
        finally:
            await asyncio.gather(*running, return_exceptions=True)

    async def _claim(self, slots):
        """Return a claimed RpcRequest holding a slot, or None (the slot released)."""
        try:
            request = await asyncio.to_thread(self.dispatch.claim)
        except BaseException:
            slots.release()
            raise
        if request is None:
            slots.release()
        return request

    async def _run_and_reply(self, request, slots):
        try:
            reply = await self.handle(request)
            await asyncio.to_thread(self.dispatch.reply, reply)
        except DispatchGone as exc:
            self._gone = exc
            self.stopping = True
        finally:
            slots.release()

    async def handle(self, request):
        """Return the RpcReply of one claimed RpcRequest (never raises for the handler)."""
        started_ns = time.time_ns()
        invocation, call_token = invocation_of(request)
        remaining = (request.deadline_ns - started_ns) / 1e9
        outcome = await self._outcome(invocation, call_token, remaining)
        return outcome.to_reply(request.corr_id, self.dispatch.worker_id, started_ns)

    async def _outcome(self, invocation, call_token, remaining):
        started = time.perf_counter()
        try:
            func, signed = find_handler(self.ext, invocation.kind, invocation.name)
            kwargs = signature_of(signed).kwargs_of(invocation.kwargs)
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
