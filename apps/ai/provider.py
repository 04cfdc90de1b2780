"""The operator's model provider, through imperal-sdk's own provider code.

Settings are imperal-sdk's (LLM_PROVIDER, LLM_API_KEY, LLM_MODEL,
LLM_BASE_URL). The calls themselves are imperal-sdk's ``LLMProvider``
(``runtime/llm_provider.py``: Anthropic natively, OpenAI, Google and
OpenAI-compatible servers through the openai client and its MessageAdapter);
this module hands that code an httpx client whose transport is the egress
guard (apps.egress.client.GuardedTransport), so every request to the provider
is checked, bounded and recorded like any outbound call, and loads the backend
that reads the provider's client library's errors (apps.ai.backends).
"""

import inspect
import ipaddress

import httpx
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from imperal_sdk.ai.client import AIClient
from imperal_sdk.runtime.llm_provider import (
    _GOOGLE_BASE_URL,
    _PROVIDER_DEFAULTS,
    LLMConfig,
    LLMProvider,
)

from apps.common.backends import keyed_backend_class
from apps.egress.policy import AllowEntry, Policy, current_policy, normal_host

PROVIDERS = ("anthropic", "openai", "google", "openai_compatible")
# Where each provider's client connects when LLM_BASE_URL is empty (the clients'
# own defaults; openai_compatible has none worth guessing).
DEFAULT_BASE_URLS = {
    "anthropic": "https://api.anthropic.com",
    "openai": "https://api.openai.com/v1",
    "google": _GOOGLE_BASE_URL,
}
# The model imperal-sdk's AIClient sends when its caller names none: here it
# means "no preference" unless the operator offers a model of that name.
SDK_DEFAULT_MODEL = inspect.signature(AIClient.complete).parameters["model"].default


def check_settings():
    """Raise ImproperlyConfigured naming LLM_PROVIDER when it names no provider."""
    provider = settings.LLM_PROVIDER
    if provider and provider not in PROVIDERS:
        raise ImproperlyConfigured(
            f"LLM_PROVIDER must be one of {', '.join(PROVIDERS)} (or empty: ctx.ai "
            f"not served), got {provider!r}"
        )


def missing_setting():
    """Return why ctx.ai is not served ('' when a provider is configured)."""
    provider = settings.LLM_PROVIDER
    if not provider:
        return "LLM_PROVIDER is empty"
    if provider == "openai_compatible" and not settings.LLM_BASE_URL:
        return "LLM_PROVIDER is openai_compatible and LLM_BASE_URL is empty"
    if provider != "openai_compatible" and not settings.LLM_API_KEY:
        return f"LLM_PROVIDER is {provider} and LLM_API_KEY is empty"
    return ""


def is_configured():
    """Return whether ctx.ai is served (a provider and what it needs are set)."""
    return not missing_setting()


def backend():
    """Return the ProviderBackend of LLM_PROVIDER, importing its module on first use.

    Raises ImproperlyConfigured naming IMPERAL_AI["BACKENDS"] when it has no
    module for the provider, or names one that cannot be imported or exports
    no ProviderBackend (its client library missing, say).
    """
    backend_class = keyed_backend_class(
        "IMPERAL_AI['BACKENDS']",
        settings.IMPERAL_AI["BACKENDS"],
        settings.LLM_PROVIDER,
        "ProviderBackend",
        chosen_by="LLM_PROVIDER",
    )
    return backend_class()


def default_model():
    """Return LLM_MODEL, else imperal-sdk's default model of the provider."""
    return settings.LLM_MODEL or _PROVIDER_DEFAULTS[settings.LLM_PROVIDER]["model"]


def offered_models():
    """Return the models extensions may ask for: the default, then IMPERAL_AI_MODELS."""
    return list(dict.fromkeys([default_model(), *settings.IMPERAL_AI_MODELS]))


def choose_model(asked):
    """Return the model a call asking for ``asked`` uses; ValueError if not offered."""
    offered = offered_models()
    if asked in (None, "") or (asked == SDK_DEFAULT_MODEL and asked not in offered):
        return offered[0]
    if not isinstance(asked, str):
        raise TypeError(f"ctx.ai: model must be a string, got {type(asked).__name__}")
    if asked not in offered:
        raise ValueError(
            f"ctx.ai: model {asked[:80]!r} is not offered here; offered: "
            f"{', '.join(offered)} (LLM_MODEL, IMPERAL_AI_MODELS)"
        )
    return asked


def config(model):
    """Return imperal-sdk's LLMConfig for one call with ``model``."""
    provider = settings.LLM_PROVIDER
    return LLMConfig(
        provider=provider,
        model=model,
        api_key=settings.LLM_API_KEY,
        base_url=base_url(),
    )


def base_url():
    """Return where the provider's client connects: LLM_BASE_URL or its default."""
    return settings.LLM_BASE_URL or DEFAULT_BASE_URLS.get(settings.LLM_PROVIDER, "")


def provider_entry():
    """Return the egress AllowEntry naming the provider's host and port."""
    url = httpx.URL(base_url())
    port = url.port or {"http": 80, "https": 443}.get(url.scheme)
    host = normal_host(url.host)
    try:
        network = ipaddress.ip_network(ipaddress.ip_address(host))
    except ValueError:
        return AllowEntry(f"{host}:{port}", host=host, port=port)
    return AllowEntry(f"{host}:{port}", network=network, port=port)


def policy_for(app_id):
    """Return the egress policy of ``app_id``'s ctx.ai calls.

    The operator's policy, plus the provider's own host and port: the operator
    chose that destination (an Ollama on a private address is usual), so any
    extension's ctx.ai reaches it even where its ctx.http may not. Every other
    destination the provider's client is sent to obeys the usual policy.
    """
    policy = current_policy()
    entries = (*policy.entries(app_id), provider_entry())
    return Policy({**policy.allow, app_id: entries}, policy.public)


class GuardedLLMProvider(LLMProvider):
    """imperal-sdk's LLMProvider whose clients send through ``http_client``.

    The SDK builds its provider client (base URL, timeouts, API key); this
    hands it the egress-guarded httpx client, the platform's timeout and retry
    count, and LLM_BASE_URL for Anthropic too (the SDK passes it to the
    OpenAI-style clients only).
    """

    def __init__(self, http_client):
        super().__init__()
        self._http_client = http_client

    def _create_client(self, cfg):
        client = super()._create_client(cfg)
        options = {
            "http_client": self._http_client,
            "timeout": settings.IMPERAL_AI_TIMEOUT,
            "max_retries": settings.IMPERAL_AI_MAX_RETRIES,
        }
        if cfg.provider == "anthropic" and settings.LLM_BASE_URL:
            options["base_url"] = settings.LLM_BASE_URL
        return client.with_options(**options)
