"""ctx.ai's core: one completion for one partition through the operator's provider,
checked before it goes, metered however it ends.

:func:`complete` is what every face calls (ctx.ai, the gateway's
``/v1/internal/ai/complete``). The rules (prompt, model, options) are checked
before anything is sent; the provider is called with imperal-sdk's own
provider code over the egress guard (apps.ai.provider); each call leaves one
AICall row (extension, user, model, tokens, duration, status — never the
prompt or the answer) and a Prometheus count.
"""

import asyncio
import numbers
import time

import httpx
from asgiref.sync import sync_to_async
from django.conf import settings
from django.utils import timezone
from imperal_sdk.ai.client import CompletionResult
from prometheus_client import Counter

from apps.egress.client import GuardedTransport
from apps.egress.errors import EgressError
from apps.quotas import counters

from . import provider
from .errors import AINotConfigured, AIProviderError, AITimeout
from .models import AICall, Status

CALLS = Counter(
    "imperal_ai_calls_total",
    "ctx.ai completions, by extension and status.",
    ["app_id", "status"],
)
TOKENS = Counter(
    "imperal_ai_tokens_total",
    "Tokens ctx.ai completions used, by extension and direction.",
    ["app_id", "direction"],
)
OPTIONS = ("max_tokens", "temperature", "system")
OPTIONS_RULE = (
    "max_tokens (an integer from 1 to IMPERAL_AI_MAX_TOKENS), temperature (a "
    "number from 0 to 2) and system (a string)"
)


AI_TOKENS = "ai.tokens"
#: Characters per token assumed when reserving a prompt's tokens before the call
#: (the provider counts them; its count settles the reservation afterwards).
CHARS_PER_TOKEN = 4


class TokenReservation:
    """The tokens a call holds against its user's daily quota while it runs.

    :meth:`reserve` charges an estimate (the prompt's characters / 4, rounded up,
    plus ``max_tokens``) before anything is sent, atomically: concurrent calls
    cannot pass the limit together. :meth:`settle` replaces the estimate with
    what the provider counted, in the day the reservation was made.
    """

    def __init__(self, partition, prompt, options):
        chars = len(prompt) + len(options["system"])
        self.partition = partition
        self.tokens = -(-chars // CHARS_PER_TOKEN) + options["max_tokens"]
        self.day = timezone.now()

    async def reserve(self):
        """Charge the estimate; raise QuotaExceeded (nothing sent, nothing charged)."""
        await counters.acharge(AI_TOKENS, self.partition, self.tokens, now=self.day)
        return self

    async def settle(self, used):
        """Give back what the call did not use, or add what it used beyond."""
        if used < self.tokens:
            await counters.arelease(
                AI_TOKENS, self.partition, self.tokens - used, now=self.day
            )
        elif used > self.tokens:
            await _add_tokens(self.partition, used - self.tokens, self.day)


_add_tokens = sync_to_async(
    lambda partition, amount, day: counters.add(AI_TOKENS, partition, amount, now=day)
)


async def complete(partition, prompt, model=None, **options):
    """Return imperal-sdk's CompletionResult for ``prompt``, asked as ``partition``.

    Raises AINotConfigured (no provider), ImproperlyConfigured (no backend
    for it: apps.ai.provider.backend), ValueError/TypeError naming a broken
    rule (nothing is sent), QuotaExceeded (the user's daily tokens; nothing
    sent), EgressError (the egress guard stopped a request),
    AIProviderError (the provider failed or refused), AITimeout.
    """
    why = provider.missing_setting()
    if why:
        raise AINotConfigured(why)
    model = provider.choose_model(model)
    prompt, options = _checked(prompt, options)
    # The first call of a process imports the client library: CPU kept off the loop.
    backend = await asyncio.to_thread(provider.backend)
    reservation = await TokenReservation(partition, prompt, options).reserve()
    call = _Metered(partition, model, backend)
    try:
        async with asyncio.timeout(settings.IMPERAL_AI_TIMEOUT):
            answer = await _send(partition, prompt, model, options)
    except (Exception, asyncio.CancelledError) as exc:
        error = call.failed(exc)
        await call.record()
        await reservation.settle(call.tokens_used)
        if error is exc:
            raise
        raise error from None
    result = call.answered(answer)
    await call.record()
    await reservation.settle(call.tokens_used)
    return result


async def _send(partition, prompt, model, options):
    transport = GuardedTransport(
        partition,
        timeout=settings.IMPERAL_AI_TIMEOUT,
        policy=provider.policy_for(partition.app_id),
    )
    async with httpx.AsyncClient(transport=transport) as http:
        llm = provider.GuardedLLMProvider(http)
        return await llm.create_message(
            [{"role": "user", "content": prompt}],
            system=options["system"],
            max_tokens=options["max_tokens"],
            cfg=provider.config(model),
            extension_id=partition.app_id,
            temperature=options["temperature"],
        )


def _checked(prompt, options):
    """Return (prompt, options with defaults); raise ValueError/TypeError naming the rule."""
    limit = settings.IMPERAL_AI_MAX_PROMPT_CHARS
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValueError("ctx.ai: prompt must be a non-empty string")
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise TypeError(
            f"ctx.ai.complete(): unknown option(s) {', '.join(unknown)}; "
            f"the options are {OPTIONS_RULE}"
        )
    max_tokens = options.get("max_tokens", settings.IMPERAL_AI_MAX_TOKENS)
    ceiling = settings.IMPERAL_AI_MAX_TOKENS
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int):
        raise TypeError(
            f"ctx.ai: max_tokens must be an integer, got {max_tokens!r:.40}"
        )
    if not 1 <= max_tokens <= ceiling:
        raise ValueError(
            f"ctx.ai: max_tokens must be from 1 to {ceiling} "
            f"(IMPERAL_AI_MAX_TOKENS), got {max_tokens}"
        )
    temperature = options.get("temperature", 0.0)
    if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real):
        raise TypeError(
            f"ctx.ai: temperature must be a number, got {temperature!r:.40}"
        )
    if not 0 <= temperature <= 2:
        raise ValueError(f"ctx.ai: temperature must be from 0 to 2, got {temperature}")
    system = options.get("system", "") or ""
    if not isinstance(system, str):
        raise TypeError(f"ctx.ai: system must be a string, got {type(system).__name__}")
    if len(prompt) + len(system) > limit:
        raise ValueError(
            f"ctx.ai: prompt and system text are {len(prompt) + len(system)} "
            f"characters, over {limit} (IMPERAL_AI_MAX_PROMPT_CHARS)"
        )
    options = {"max_tokens": max_tokens, "temperature": float(temperature)}
    return prompt, {**options, "system": system}


class _Metered:
    """The AICall row one call leaves, filled in as it goes; ``backend`` reads
    the provider's exceptions."""

    def __init__(self, partition, model, backend):
        self.started = time.perf_counter()
        self.backend = backend
        self.row = {
            **partition.fields(),
            "started_at": timezone.now(),
            "provider": settings.LLM_PROVIDER,
            "model": model[:128],
            "status": Status.OK,
        }

    def answered(self, answer):
        """Return the CompletionResult of the provider's ``answer``; note its tokens."""
        usage = answer.usage
        tokens_in = int(getattr(usage, "input_tokens", 0) or 0)
        tokens_out = int(getattr(usage, "output_tokens", 0) or 0)
        self.row.update(input_tokens=tokens_in, output_tokens=tokens_out)
        text = "".join(
            getattr(block, "text", "") or ""
            for block in answer.content
            if getattr(block, "type", "text") == "text"
        )
        total = tokens_in + tokens_out
        return CompletionResult(
            text=text,
            model=self.row["model"],
            usage={
                "input_tokens": tokens_in,
                "output_tokens": tokens_out,
                "total_tokens": total,
            },
            stop_reason=answer.stop_reason or "",
            tokens_used=total,
        )

    def failed(self, exc):
        """Note how the call failed; return the error the caller gets."""
        unreachable = self.backend.is_unreachable(exc)
        cause = exc.__cause__ if unreachable else None
        if isinstance(exc, EgressError) or isinstance(cause, EgressError):
            error = exc if isinstance(exc, EgressError) else cause
            self.row.update(status=Status.REFUSED, error_code=error.code)
            return error
        if isinstance(exc, TimeoutError) or self.backend.is_timeout(exc):
            self.row.update(status=Status.TIMEOUT, error_code="timeout")
            return AITimeout(
                f"ctx.ai: the model provider did not answer within "
                f"{settings.IMPERAL_AI_TIMEOUT:g} s (IMPERAL_AI_TIMEOUT)"
            )
        status = self.backend.status_of(exc)
        if status is not None:
            self.row.update(
                status=Status.FAILED,
                error_code="provider_status",
                provider_status=status,
            )
            return AIProviderError(
                f"ctx.ai: the model provider answered {status} ({type(exc).__name__})",
                provider_status=status,
            )
        self.row.update(status=Status.FAILED, error_code=type(exc).__name__[:64])
        if unreachable:
            return AIProviderError(
                f"ctx.ai: the model provider could not be reached ({type(exc).__name__})"
            )
        return exc

    @property
    def tokens_used(self):
        """Return the tokens the provider counted for this call (0 if none)."""
        return self.row.get("input_tokens", 0) + self.row.get("output_tokens", 0)

    async def record(self):
        """Count the call and store its AICall row."""
        row = self.row
        row["duration_ms"] = (time.perf_counter() - self.started) * 1000
        CALLS.labels(app_id=row["app_id"], status=row["status"]).inc()
        TOKENS.labels(app_id=row["app_id"], direction="input").inc(
            row.get("input_tokens", 0)
        )
        TOKENS.labels(app_id=row["app_id"], direction="output").inc(
            row.get("output_tokens", 0)
        )
        await _store(row)


_store = sync_to_async(lambda row: AICall.objects.create(**row))
