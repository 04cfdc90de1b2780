"""ctx.ai against a fake OpenAI-compatible server on loopback."""

import pytest
from asgiref.sync import async_to_sync

from apps.extensions.invocation import prepare_tool
from apps.extensions.sync import sync_extensions

from .fake_openai import FakeOpenAI

APP = "ai-probe"
ENTRY = "tests.ai.ai_probe"
MODEL = "fake-model-1"
API_KEY = "sk-fake-7d1e44b0"


@pytest.fixture
def fake():
    server = FakeOpenAI()
    yield server
    server.stop()


@pytest.fixture
def provider(settings, fake):
    """The operator's provider: the fake, as an openai_compatible server."""
    settings.LLM_PROVIDER = "openai_compatible"
    settings.LLM_BASE_URL = fake.base_url
    settings.LLM_MODEL = MODEL
    settings.LLM_API_KEY = API_KEY
    settings.IMPERAL_AI_MAX_RETRIES = 0
    return fake


@pytest.fixture
def probe(use_extensions):
    registry = use_extensions(ENTRY)
    sync_extensions(registry)
    return registry.get(APP)


def call(tool, user="alice", **params):
    """Run a tool of ai-probe through the kernel as ``user``; return its result."""
    return async_to_sync(prepare_tool(APP, tool, user, params).run)()
