"""The gateway's contract, by generated requests: every route of its description
(tests/gateway/described.py) and a sample of routes and methods nobody serves
answer in the one error shape, and never a 5xx for a caller's mistake.

schemathesis generates requests from the description, valid and invalid ones,
and sends them to the WSGI application in this process with an extension-wide
service token acting for alice; hypothesis generates unknown paths and methods.
"""

import json
import string

import hypothesis
import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client
from hypothesis import strategies as st
from schemathesis import checks

from apps.gateway.urls import urlpatterns
from imperal_platform.wsgi import application

from .described import SCHEMA

pytestmark = pytest.mark.django_db
MAX_EXAMPLES = 8
COLLECTION_ACTIONS = ("/query", "/count", "/list_users", "/all")
WEBHOOKS = "/v1/ext/"
AI_COMPLETE = "/v1/internal/ai/complete"

schema = schemathesis.openapi.from_dict(SCHEMA)
schema.app = application


@pytest.fixture
def gateway_headers(wide_token, settings):
    """Credentials reaching the views: cache-probe's extension-wide token for alice.

    As Django's test client does, requests here do not close the database
    connection when they start or end: it holds the test's transaction.
    """
    settings.IMPERAL_HANDLER_TIMEOUT = 2
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield {"X-Service-Token": wide_token, "X-Acting-User": "alice"}
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@schema.parametrize()
@hypothesis.settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(hypothesis.HealthCheck),
    derandomize=True,
)
def test_the_gateway_answers_as_described(case, gateway_headers):
    excluded = [checks.positive_data_acceptance]
    if case.path.endswith(COLLECTION_ACTIONS) or case.path.startswith(WEBHOOKS):
        # imperal-sdk puts a collection's actions where a document id goes:
        # ".../query" is also document "query" to GET, PATCH and DELETE, so its
        # Allow header names those too, not only the action's POST; a webhook's
        # methods are whatever its extension declares.
        excluded.append(checks.allow_header_conformance)
    if case.path == AI_COMPLETE:
        # No model provider here: a request the route accepts is 501 not_served,
        # which is a 5xx by design; any other 5xx still fails below.
        excluded.append(checks.not_a_server_error)
    response = case.call_and_validate(headers=gateway_headers, excluded_checks=excluded)
    assert response.status_code < 500 or response.status_code == 501


def test_the_description_covers_every_gateway_route():
    named = {pattern.name for pattern in urlpatterns} - {"unknown"}
    described = {
        "store-create": "/v1/internal/store",
        "store-item": "/v1/internal/store/{collection}/{doc_id}",
        "extcache-entry": "/v1/internal/extcache/{app}/{user}/{model}/{key_hash}",
        "notify": "/v1/internal/notify",
        "skeleton-section": "/v1/internal/skeleton/{app}/{user}/{section}",
        "webhook": "/v1/ext/{app}/webhook/{path}",
        "secrets": "/v1/secrets/{app}",
        "secret": "/v1/secrets/{app}/{name}",
        "secret-meta": "/v1/secrets/{app}/{name}/meta",
        "runtime-claim": "/v1/runtime/claim",
        "runtime-reply": "/v1/runtime/reply",
        "ai-complete": "/v1/internal/ai/complete",
        "storage-upload": "/v1/internal/storage/upload",
        "storage-download": "/v1/internal/storage/download",
        "storage-list": "/v1/internal/storage/list",
        "storage-delete": "/v1/internal/storage",
        "http": "/v1/internal/http",
        "progress": "/v1/internal/progress",
        "deliveries": "/v1/internal/deliveries",
        "deliveries-hold": "/v1/internal/deliveries/hold",
        "db-execute": "/v1/internal/db/execute",
        "db-begin": "/v1/internal/db/begin",
        "db-commit": "/v1/internal/db/commit",
        "db-rollback": "/v1/internal/db/rollback",
        "db-ping": "/v1/internal/db/ping",
    }
    assert named == set(described)
    assert set(described.values()) <= set(SCHEMA["paths"])


SEGMENT = st.text(
    string.ascii_lowercase + string.digits + "-_.", min_size=1, max_size=12
)
PREFIXES = ("/v1/internal/", "/v1/internal/store/", "/v1/", "/api/v1/", "/api/")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "BREW")


@hypothesis.given(
    prefix=st.sampled_from(PREFIXES),
    segments=st.lists(SEGMENT, min_size=1, max_size=4),
    method=st.sampled_from(METHODS),
    body=st.one_of(st.none(), st.dictionaries(SEGMENT, SEGMENT, max_size=3)),
)
@hypothesis.settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=list(hypothesis.HealthCheck),
    derandomize=True,
)
def test_an_unknown_route_or_method_is_a_4xx_in_the_error_shape(
    gateway_headers, prefix, segments, method, body
):
    # "zz" keeps generated segments off the names real routes use.
    path = prefix + "/".join(f"zz{segment}" for segment in segments)
    extra = {
        "HTTP_" + k.upper().replace("-", "_"): v for k, v in gateway_headers.items()
    }
    data = {} if body is None else {"data": json.dumps(body)}
    answer = Client().generic(
        method, path, content_type="application/json", **data, **extra
    )
    assert 400 <= answer.status_code < 500, (method, path, answer.status_code)
    assert answer["Content-Type"].startswith("application/json"), (method, path)
    error = answer.json()["error"]
    assert set(error) == {"code", "message", "detail"}, (method, path)
