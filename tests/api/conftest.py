"""Fixtures of the API's tests: extensions, tokens for alice, bob and charlie, operators.

Requests go through Django's test client in this process; the throttling
and export-memory tests start what they need themselves.
"""

import json
import uuid

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from apps.accounts.models import ApiToken, User
from apps.cache.core import get_core

EXTENSIONS = (
    "tests.api.probe_extension",
    "tests.fixtures.extensions.probe",
    "extensions.contacts",
)


@pytest.fixture(autouse=True)
def api_extensions(use_extensions, settings):
    """The registry of every API test, with no rate limit unless a test sets one."""
    settings.IMPERAL_API_RATES = {"user": ""}
    return use_extensions(*EXTENSIONS)


class Api:
    """Django's test client speaking the API's credentials; bodies are JSON."""

    def __init__(self, token=None, client=None):
        self.client = client or Client()
        self.token = token

    def request(self, method, path, body=None, token=None, **extra):
        """Send one request; return the response (``.json()`` for JSON bodies)."""
        token = token if token is not None else self.token
        if token:
            extra["HTTP_AUTHORIZATION"] = f"Token {token}"
        if body is not None:
            extra.update(data=json.dumps(body), content_type="application/json")
        return getattr(self.client, method)(path, **extra)

    def get(self, path, **kwargs):
        return self.request("get", path, **kwargs)

    def post(self, path, body=None, **kwargs):
        return self.request("post", path, body, **kwargs)

    def delete(self, path, **kwargs):
        return self.request("delete", path, **kwargs)


def token_for(user, **kwargs):
    """Return a new raw API token of ``user``."""
    return ApiToken.issue(user, **kwargs)[1]


@pytest.fixture
def as_alice(alice):
    return Api(token_for(alice))


@pytest.fixture
def as_bob(bob):
    return Api(token_for(bob))


@pytest.fixture
def make_operator(db):
    """Return a function making a staff user with the given permissions, and its Api."""

    def make(name="olga", *permissions, superuser=False):
        user = User.objects.create(
            username=name, imperal_id=name, is_staff=True, is_superuser=superuser
        )
        for dotted in permissions:
            app_label, codename = dotted.split(".")
            user.user_permissions.add(
                Permission.objects.get(
                    content_type__app_label=app_label, codename=codename
                )
            )
        return user, Api(token_for(user))

    return make


def error_of(response, status):
    """Assert the one error shape with ``status``; return its error object."""
    assert response.status_code == status, response.content[:500]
    body = response.json()
    assert set(body) >= {"error"}
    assert set(body["error"]) == {"code", "message", "detail"}
    return body["error"]


@pytest.fixture
def cache_prefix(settings):
    """Give the test a ctx.cache key prefix of its own; delete its entries afterwards."""
    prefix = f"{settings.CACHE_KEY_PREFIX}:ext:api{uuid.uuid4().hex[:10]}"
    settings.IMPERAL_CACHE = {**settings.IMPERAL_CACHE, "KEY_PREFIX": prefix}
    yield prefix
    backend = get_core().backend
    leftovers = [entry.key for entry in backend.list(prefix + ":", 100_000)]
    if leftovers:
        backend.delete(leftovers)
