"""Anthropic's client library, which imperal-sdk calls for LLM_PROVIDER anthropic."""

import anthropic

from .base import ProviderBackendBase


class ProviderBackend(ProviderBackendBase):
    status_error = anthropic.APIStatusError
    timeout_error = anthropic.APITimeoutError
    connection_error = anthropic.APIConnectionError
