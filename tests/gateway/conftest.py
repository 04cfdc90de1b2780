"""Fixtures of the gateway's tests: two extensions, tokens, a client, a cache prefix.

Requests go through Django's test client in this process (the live-server
tests are in tests/compat). Three users as everywhere: alice owns, bob
collaborates, charlie is the outsider.
"""

import hashlib
import json
import logging
import uuid

import pytest
from django.test import Client
from imperal_sdk.security.call_token import mint_call_token
from prometheus_client import REGISTRY

from apps.accounts.models import SecurityEvent
from apps.accounts.partition import Partition
from apps.cache.core import get_core
from apps.gateway import calltokens
from apps.gateway.tokens import issue_token
from apps.runtime.credentials import call_token_for
from apps.runtime.worker.envelope import FanOutScope, Identity, Invocation

APP = "cache-probe"
OTHER_APP = "probe"
EXTENSIONS = (
    "tests.fixtures.extensions.cache_probe",
    "tests.fixtures.extensions.probe",
)
TENANT = "default"
STORE_PATH = "/v1/internal/store"


@pytest.fixture
def registry(use_extensions):
    return use_extensions(*EXTENSIONS)


@pytest.fixture
def issued():
    """Every raw service token the test issued (through ``issue``)."""
    return []


@pytest.fixture
def issue(registry, db, issued):
    """Return a function issuing a service token; it returns the raw token."""

    def issue_raw(app_id=APP, user_id="", **kwargs):
        raw = issue_token(app_id, user_id=user_id, **kwargs).raw
        issued.append(raw)
        return raw

    return issue_raw


@pytest.fixture
def wide_token(issue):
    """An extension-wide service token of cache-probe."""
    return issue()


@pytest.fixture
def alice_token(issue):
    """A service token of cache-probe bound to alice."""
    return issue(user_id="alice")


@pytest.fixture
def system_token(issue):
    return issue(user_id="__system__")


def call_token(app_id=APP, user_id="alice", ttl=60, secret=None, tool_type="tool"):
    """Return a call token as the kernel mints one per invocation."""
    secret = secret or calltokens.call_token_secrets()[0]
    return mint_call_token(tool_type, app_id, user_id, ttl, secret)


FIRE_RUN = 4242  # the ledger run of fire_token's fires


def fire_token(
    index=0, count=2, resumed=False, user_id="__system__", kind="schedule", app="digest"
):
    """Return (call token, call id) the kernel mints for a ``kind`` call of ``app``
    as ``user_id``; a schedule's is shard ``index`` of ``count`` of run FIRE_RUN."""
    invocation = Invocation(
        app_id=app,
        kind=kind,
        name="daily",
        identity=Identity(user_id=user_id, tenant_id="default"),
        timeout=60,
        fan_out=(
            FanOutScope(FIRE_RUN, index, count, resumed) if kind == "schedule" else None
        ),
    )
    return call_token_for(invocation, 600), invocation.call_id


class Gateway:
    """Django's test client speaking the gateway's headers; every answer is kept."""

    def __init__(self):
        self.client = Client()
        self.responses = []

    def request(self, method, path, body=None, *, token=None, call=None, **headers):
        """Send one request; ``body`` is a JSON value or bytes; return the response.

        ``token`` goes in X-Service-Token, ``call`` in Authorization; other
        keyword arguments are headers (``acting_user="bob"`` → X-Acting-User).
        """
        extra = {_header(name): value for name, value in headers.items()}
        if token is not None:
            extra["HTTP_X_SERVICE_TOKEN"] = token
        if call is not None:
            extra["HTTP_AUTHORIZATION"] = f"ImperalCallToken {call}"
        kwargs = {}
        if body is not None:
            kwargs["data"] = body if isinstance(body, bytes) else json.dumps(body)
            kwargs["content_type"] = extra.pop("CONTENT_TYPE", "application/json")
        response = self.client.generic(method, path, **kwargs, **extra)
        self.responses.append(response)
        return response

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body if body is not None else {}, **kw)

    def patch(self, path, body=None, **kw):
        return self.request("PATCH", path, body if body is not None else {}, **kw)

    def put(self, path, body=None, **kw):
        return self.request("PUT", path, body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def bodies(self):
        """Return every response body received so far, as text."""
        return "\n".join(r.content.decode("utf-8", "replace") for r in self.responses)


def _header(name):
    if name == "content_type":
        return "CONTENT_TYPE"
    return "HTTP_" + name.upper().replace("-", "_")


@pytest.fixture
def gateway(db, issued, caplog):
    """The client; afterwards no token the test issued is in a body or a log line."""
    caplog.set_level(logging.DEBUG)
    client = Gateway()
    yield client
    records = caplog.get_records("setup") + caplog.get_records("call")
    logged = "\n".join(logging.Formatter().format(record) for record in records)
    bodies = client.bodies()
    for raw in issued:
        assert raw not in bodies and raw not in logged


def error_of(response):
    """Return the ``error`` object of a response in the one error shape."""
    body = response.json()
    assert set(body) >= {"error"}, body
    assert set(body["error"]) == {"code", "message", "detail"}, body
    return body["error"]


@pytest.fixture
def cache_prefix(settings):
    """Give the test a key prefix of its own; delete its entries afterwards."""
    prefix = f"{settings.CACHE_KEY_PREFIX}:ext:gw{uuid.uuid4().hex[:10]}"
    settings.IMPERAL_CACHE = {**settings.IMPERAL_CACHE, "KEY_PREFIX": prefix}
    yield prefix
    backend = get_core().backend
    leftovers = [entry.key for entry in backend.list(prefix + ":", 100_000)]
    if leftovers:
        backend.delete(leftovers)


def cache_state(prefix):
    """Return {key: bytes} of every entry under ``prefix``."""
    backend = get_core().backend
    return {e.key: backend.get(e.key) for e in backend.list(prefix + ":", 100_000)}


def key_hash(key):
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def extcache(user="alice", model="resource_summary", key="k", app=APP):
    return f"/v1/internal/extcache/{app}/{user}/{model}/{key_hash(key)}"


def partition(user_id="alice", app_id=APP, tenant_id=TENANT):
    return Partition(tenant_id, app_id, user_id)


class Threats:
    """SecurityEvent attempts and the threat counter, to compare before and after."""

    def snapshot(self, kind, app_id=APP):
        counter = REGISTRY.get_sample_value(
            "imperal_store_threat_total", {"kind": kind, "app_id": app_id}
        )
        return SecurityEvent.objects.of_kind(kind).attempts(), counter or 0.0


@pytest.fixture
def threats(db):
    return Threats()
