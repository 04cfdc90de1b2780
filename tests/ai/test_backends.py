"""Provider backends: a client library is loaded by the first call to its provider,
never by a process's start; each backend reads its library's errors; a missing
backend names its setting."""

import json

import pytest
from django.core.exceptions import ImproperlyConfigured

from apps.ai.errors import AIProviderError
from apps.ai.models import AICall, Status
from tests.processes import platform_process

from .conftest import API_KEY, call
from .test_complete import PROMPT, raised

# The OutboundCall writer stores rows on its own connection: no test transaction.
pytestmark = pytest.mark.django_db(transaction=True)

# What a server, a worker and a management command load before any call.
LOADED_AT_START = (
    "import django, json, sys; django.setup(); "
    "import imperal_platform.urls, imperal_platform.celery; "
    "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} "
    "& {'anthropic', 'openai'})))"
)


def test_a_process_start_loads_no_client_library_even_with_a_provider():
    done = platform_process(
        LOADED_AT_START, timeout=120, LLM_PROVIDER="anthropic", LLM_API_KEY=API_KEY
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


def test_an_anthropic_error_status_is_a_provider_error_and_a_failed_row(
    provider, probe, alice, settings
):
    # Anthropic's client posts to /v1/messages, which the OpenAI fake answers 404.
    settings.LLM_PROVIDER = "anthropic"
    settings.LLM_BASE_URL = f"http://127.0.0.1:{provider.port}"
    error = raised("suggest", prompt=PROMPT)
    assert isinstance(error, AIProviderError)
    assert error.provider_status == 404 and "NotFoundError" in str(error)
    assert [r["path"] for r in provider.requests] == ["/v1/messages"]
    row = AICall.objects.get()
    assert (row.provider, row.status, row.error_code, row.provider_status) == (
        "anthropic",
        Status.FAILED,
        "provider_status",
        404,
    )


@pytest.mark.parametrize(
    "backends, words",
    [
        ({}, "no backend module for 'openai_compatible' (LLM_PROVIDER); it has []"),
        (
            {"openai_compatible": "apps.ai.backends.missing"},
            "IMPERAL_AI['BACKENDS']['openai_compatible'] = 'apps.ai.backends.missing'",
        ),
        (
            {"openai_compatible": "apps.ai.errors"},
            "is not a module exporting ProviderBackend",
        ),
    ],
)
def test_a_provider_without_a_backend_names_the_setting_and_sends_nothing(
    provider, probe, alice, settings, backends, words
):
    settings.IMPERAL_AI = {"BACKENDS": backends}
    error = raised("suggest", prompt=PROMPT)
    assert isinstance(error, ImproperlyConfigured)
    assert words in str(error) and "IMPERAL_AI['BACKENDS']" in str(error)
    assert provider.requests == [] and not AICall.objects.exists()
    # The operator's fix takes effect on the next call.
    settings.IMPERAL_AI = {"BACKENDS": {"openai_compatible": "apps.ai.backends.openai"}}
    assert call("suggest", prompt=PROMPT)["text"] == f"echo: {PROMPT}"
