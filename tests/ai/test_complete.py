"""ctx.ai through the kernel against a fake OpenAI-compatible provider on loopback: the
SDK's CompletionResult with usage, one metered row per call (never the prompt or the
answer), the egress guard on the way, loud when no provider is configured."""

import pytest
from asgiref.sync import async_to_sync
from imperal_sdk.ai.client import CompletionResult

from apps.accounts.identity import user_context
from apps.ai.errors import AIProviderError, AITimeout
from apps.ai.models import AICall, Status
from apps.ai.provider import SDK_DEFAULT_MODEL
from apps.extensions.context import build_context
from apps.extensions.errors import HandlerFailed
from apps.extensions.unserved import SurfaceNotServed

from .conftest import API_KEY, APP, MODEL, call

# The OutboundCall writer stores rows on its own connection: no test transaction.
pytestmark = pytest.mark.django_db(transaction=True)

PROMPT = "Suggest three tasks for my Monday"


def raised(tool, **params):
    with pytest.raises(HandlerFailed) as failed:
        call(tool, **params)
    return failed.value.exc


def test_a_completion_answers_with_usage_and_is_metered(provider, probe, alice):
    result = call("suggest", prompt=PROMPT, options={"max_tokens": 50})

    assert result == {
        "text": f"echo: {PROMPT}",
        "model": MODEL,
        "usage": {"input_tokens": 6, "output_tokens": 7, "total_tokens": 13},
        "tokens_used": 13,
        "stop_reason": "end_turn",
    }
    sent = provider.requests[0]
    assert sent["path"] == "/v1/chat/completions"
    assert sent["authorization"] == f"Bearer {API_KEY}"
    assert sent["body"]["model"] == MODEL
    assert sent["body"]["max_tokens"] == 50
    assert sent["body"]["messages"] == [{"role": "user", "content": PROMPT}]
    row = AICall.objects.get()
    assert (row.tenant_id, row.app_id, row.user_id) == ("default", APP, "alice")
    assert (row.provider, row.model, row.status) == ("openai_compatible", MODEL, "ok")
    assert (row.input_tokens, row.output_tokens) == (6, 7)
    assert row.duration_ms > 0
    stored = " ".join(str(value) for value in row.__dict__.values())
    assert "Monday" not in stored and "echo" not in stored


def test_a_failing_provider_is_a_provider_error_and_a_failed_row(
    provider, probe, alice
):
    provider.status = 500
    error = raised("suggest", prompt=PROMPT)
    assert isinstance(error, AIProviderError)
    assert error.code == "bad_gateway" and error.provider_status == 500
    row = AICall.objects.get()
    assert (row.status, row.provider_status, row.input_tokens) == (
        Status.FAILED,
        500,
        0,
    )


def test_a_slow_provider_times_out(provider, probe, alice, settings):
    settings.IMPERAL_AI_TIMEOUT = 0.5
    provider.delay = 2
    error = raised("suggest", prompt=PROMPT)
    assert isinstance(error, AITimeout)
    assert "IMPERAL_AI_TIMEOUT" in str(error)
    assert AICall.objects.get().status == Status.TIMEOUT


def test_the_sdks_default_model_means_the_operators_model(provider, probe, alice):
    result = call("suggest", prompt=PROMPT, model=SDK_DEFAULT_MODEL)
    assert result["model"] == MODEL
    assert provider.requests[0]["body"]["model"] == MODEL


def test_an_offered_model_is_used_and_another_is_refused_before_sending(
    provider, probe, alice, settings
):
    settings.IMPERAL_AI_MODELS = ["fake-model-2"]
    assert (
        call("suggest", prompt=PROMPT, model="fake-model-2")["model"] == "fake-model-2"
    )
    error = raised("suggest", prompt=PROMPT, model="gpt-99")
    assert isinstance(error, ValueError)
    assert "offered: fake-model-1, fake-model-2" in str(error)
    assert len(provider.requests) == 1


@pytest.mark.parametrize(
    "options, kind, words",
    [
        ({"max_tokens": 0}, ValueError, "max_tokens must be from 1 to 4096"),
        ({"max_tokens": "10"}, TypeError, "max_tokens must be an integer"),
        ({"temperature": 3}, ValueError, "temperature must be from 0 to 2"),
        ({"base_url": "http://evil"}, TypeError, "unknown option(s) base_url"),
        ({"system": 5}, TypeError, "system must be a string"),
    ],
)
def test_bad_options_are_refused_before_anything_is_sent(
    provider, probe, alice, options, kind, words
):
    error = raised("suggest", prompt=PROMPT, options=options)
    assert isinstance(error, kind)
    assert words in str(error)
    assert provider.requests == [] and not AICall.objects.exists()


def test_a_prompt_over_the_limit_is_refused(provider, probe, alice, settings):
    settings.IMPERAL_AI_MAX_PROMPT_CHARS = 10
    error = raised("suggest", prompt=PROMPT)
    assert "IMPERAL_AI_MAX_PROMPT_CHARS" in str(error)
    assert provider.requests == []


def test_the_system_text_reaches_the_provider(provider, probe, alice):
    call("suggest", prompt=PROMPT, options={"system": "Be brief.", "temperature": 0.5})
    body = provider.requests[0]["body"]
    assert body["messages"][0] == {"role": "system", "content": "Be brief."}
    assert body["temperature"] == 0.5


def test_without_a_provider_ctx_ai_is_loud_and_names_the_settings(
    probe, alice, settings
):
    settings.LLM_PROVIDER = ""
    assert call("available") == {"ai": False}
    error = raised("suggest", prompt=PROMPT)
    assert type(error) is SurfaceNotServed
    assert "LLM_PROVIDER" in str(error) and "LLM_API_KEY" in str(error)
    assert not AICall.objects.exists()


def test_a_provider_without_its_key_is_not_served(probe, alice, settings):
    settings.LLM_PROVIDER = "openai"
    settings.LLM_API_KEY = ""
    assert call("available") == {"ai": False}


def test_the_face_returns_the_sdks_completion_result(provider, probe, alice):

    ctx = build_context(probe.ext, user_context(alice))
    result = async_to_sync(ctx.ai.complete)(PROMPT)
    assert isinstance(result, CompletionResult)
    assert result.usage["total_tokens"] == result.tokens_used == 13
