"""OpenAI's client library, which imperal-sdk calls for LLM_PROVIDER openai, google
and openai_compatible."""

import openai

from .base import ProviderBackendBase


class ProviderBackend(ProviderBackendBase):
    status_error = openai.APIStatusError
    timeout_error = openai.APITimeoutError
    connection_error = openai.APIConnectionError
