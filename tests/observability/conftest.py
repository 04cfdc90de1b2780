"""Fixtures of the observability tests: the probe extension, users and API clients."""

import json

import pytest
from django.test import Client

from apps.accounts.models import ApiToken, User

APP = "obs-probe"
EXTENSION = "tests.observability.probe_extension"


@pytest.fixture
def probe(use_extensions, settings):
    """The registry holding the probe extension, with no API rate limit."""
    settings.IMPERAL_API_RATES = {"user": ""}
    return use_extensions(EXTENSION)


class Caller:
    """Django's test client with an API token; bodies are JSON."""

    def __init__(self, token):
        self.client = Client()
        self.token = token

    def call(self, tool, params=None, kind="tools", **headers):
        """POST a tool's (or panel's) params; return the response."""
        return self.client.post(
            f"/api/v1/extensions/{APP}/{kind}/{tool}/call",
            data=json.dumps({"params": params or {}}),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Token {self.token}",
            **headers,
        )


@pytest.fixture
def as_alice(db, probe):
    alice = User.objects.create(username="alice", imperal_id="alice")
    return Caller(ApiToken.issue(alice)[1])
