"""Run a kernel-called handler (hook, skeleton refresh, webhook) and say how it ended.

Unlike a user's tool call, nobody waits for these to raise: the caller records
the outcome, so :func:`run_handler` never raises for the handler's failure.
"""

import asyncio
import inspect
import logging
import time
from dataclasses import dataclass

from apps.common.errors import without_credentials

from .models import Outcome
from .serialization import to_jsonable

logger = logging.getLogger(__name__)

ERROR_MAX_CHARS = 2000


@dataclass
class HandlerOutcome:
    """How one run ended: ``status`` is an Outcome, ``result`` JSON values."""

    status: str
    result: object = None
    error: str = ""
    duration_ms: float = 0.0
    exc: BaseException = None

    @property
    def ok(self):
        return self.status == Outcome.SUCCESS


async def run_handler(label, func, ctx, timeout, **kwargs):
    """Run ``func(ctx, **kwargs)`` under ``timeout`` seconds; return a HandlerOutcome."""
    started = time.perf_counter()
    try:
        result = await asyncio.wait_for(_call(func, ctx, kwargs), timeout)
        outcome = HandlerOutcome(Outcome.SUCCESS, to_jsonable(result))
    except TimeoutError as exc:
        outcome = HandlerOutcome(
            Outcome.TIMEOUT,
            error=f"{label} did not finish within {timeout:g} s and was cancelled",
            exc=exc,
        )
    except Exception as exc:  # an extension's handler may raise anything
        # The message may quote a connection string; the record keeps it masked.
        error = without_credentials(f"{type(exc).__name__}: {exc}")
        logger.warning("%s failed: %s", label, error)
        outcome = HandlerOutcome(Outcome.FAILED, error=error[:ERROR_MAX_CHARS], exc=exc)
    outcome.duration_ms = (time.perf_counter() - started) * 1000
    return outcome


def accepted_kwargs(func, offered):
    """Return the items of ``offered`` that ``func`` accepts as keyword arguments."""
    try:
        parameters = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return {}
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return dict(offered)
    names = {
        p.name
        for p in parameters
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }
    return {key: value for key, value in offered.items() if key in names}


async def _call(func, ctx, kwargs):
    result = func(ctx, **kwargs)
    if inspect.isawaitable(result):
        return await result
    return result
