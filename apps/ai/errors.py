"""What ctx.ai raises besides a rule's ValueError/TypeError, each with a code of the
error table (apps.common.errors) so every face answers it the same way."""

from apps.common.errors import CodedError

SETTINGS_HINT = (
    "set LLM_PROVIDER (anthropic, openai, google or openai_compatible), "
    "LLM_API_KEY, LLM_MODEL and, for openai_compatible, LLM_BASE_URL"
)


class AINotConfigured(CodedError, RuntimeError):
    """No model provider is configured: ctx.ai is not served."""

    code = "not_served"

    def __init__(self, why=""):
        super().__init__(
            f"ctx.ai is not served by this platform: no model provider is "
            f"configured{f' ({why})' if why else ''}; an operator must {SETTINGS_HINT}"
        )


class AIProviderError(CodedError, RuntimeError):
    """The model provider failed or refused the call; ``provider_status`` is its
    HTTP status when it answered one."""

    code = "bad_gateway"

    def __init__(self, message, provider_status=None):
        super().__init__(message)
        self.provider_status = provider_status


class AITimeout(CodedError, RuntimeError):
    """The call took longer than IMPERAL_AI_TIMEOUT seconds.

    Not a TimeoutError: the kernel reads that as the handler's own deadline.
    """

    code = "timeout"
