"""ctx.ai: imperal-sdk's AIClient API over the ai core."""

from . import core
from .provider import is_configured


def ai_for(ctx):
    """Return the ctx.ai of a PlatformContext, or None when no provider is
    configured (the kernel then serves its loud stand-in)."""
    if not is_configured():
        return None
    return AIFace(ctx._partition)


class AIFace:
    """One partition's completions, as imperal-sdk's ``AIClient`` offers them."""

    def __init__(self, partition):
        self._partition = partition

    async def complete(self, prompt, model=None, **kwargs):
        """Return imperal-sdk's CompletionResult (text, model, usage, stop_reason,
        tokens_used) of ``prompt``.

        ``model`` defaults to the operator's LLM_MODEL; ``kwargs`` are
        ``max_tokens``, ``temperature`` and ``system``. Raises as
        apps.ai.core.complete.
        """
        return await core.complete(self._partition, prompt, model, **kwargs)

    def __repr__(self):
        return f"<ctx.ai {self._partition}>"
