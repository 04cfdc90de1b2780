"""The OpenAPI 3 schema: valid, complete, and what the API really answers (schemathesis).

schemathesis generates requests from /api/schema/ and sends them to the WSGI
application in this process, as an operator holding every permission (so
requests get past authentication to the views). Each answer must not be a
5xx and must conform to the schema: status, content type, body; requests
the schema says are invalid must be refused. Left out: "schema-valid data is
accepted", since a cursor, a where or a handler's params can fit their
declared type and still break a rule only the core knows (a 400 naming it).
"""

import hypothesis
import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from drf_spectacular.validation import validate_schema
from schemathesis import checks

from apps.api.views.base import ApiView, OperatorView
from imperal_platform.wsgi import application

from .conftest import Api

pytestmark = pytest.mark.django_db
MAX_EXAMPLES = 8
METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture
def schema_json(db):
    return Api().get("/api/schema/?format=json").json()


def test_the_schema_is_valid_openapi_3(schema_json):
    assert schema_json["openapi"].startswith("3.")
    validate_schema(schema_json)


def test_every_route_has_a_summary_typed_shapes_and_its_errors(schema_json):
    operations = [
        (path, method, operation)
        for path, item in schema_json["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]
    assert len(operations) >= 20
    for path, method, operation in operations:
        where = f"{method.upper()} {path}"
        assert operation.get("summary"), where
        responses = operation["responses"]
        content = responses.get("200", {}).get("content", {})
        # JSON, or the bytes of a download (a user's file).
        ok = content.get("application/json") or content.get("application/octet-stream")
        assert (ok or {}).get("schema"), where
        assert "503" in responses, where
        for status, response in responses.items():
            if status.startswith(("4", "5")):
                ref = response["content"]["application/json"]["schema"]["$ref"]
                assert ref == "#/components/schemas/Error", where
        if path != "/healthz":
            assert {"401", "403", "429"} <= set(responses), where
        if method == "post" and "requestBody" in operation:
            body = operation["requestBody"]["content"]["application/json"]
            assert body["schema"], where


def test_no_route_is_described_by_a_base_views_docstring(schema_json):
    inherited = [base.__doc__.splitlines()[0] for base in (ApiView, OperatorView)]
    described = {
        f"{method.upper()} {path}": operation.get("description", "")
        for path, item in schema_json["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    }
    leaks = [
        where for where, text in described.items() if any(i in text for i in inherited)
    ]
    assert leaks == []
    # A route's own description is kept.
    own = described["POST /api/v1/extensions/{app_id}/tools/{name}/call"]
    assert own.startswith("Params are validated against the tool's signature")


def test_the_docs_pages_are_served_from_local_files(db):
    for page in ("/api/docs/", "/api/redoc/"):
        html = Api().get(page).content.decode()
        assert "/static/drf_spectacular_sidecar/" in html, page
        assert "cdn." not in html and "unpkg" not in html, page


@pytest.fixture
def operator_headers(db, make_operator, settings):
    """Credentials of a superuser, so generated requests reach the views.

    As Django's test client does, requests here do not close the database
    connection when they start or end: it holds the test's transaction.
    """
    settings.IMPERAL_HANDLER_TIMEOUT = 2
    _, root = make_operator("root", superuser=True)
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield {"Authorization": f"Token {root.token}"}
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


# Loaded at collection: generating the schema reads no database.
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)


@schema.parametrize()
@hypothesis.settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(hypothesis.HealthCheck),
    derandomize=True,
)
def test_the_api_answers_as_its_schema_says(case, operator_headers):
    case.call_and_validate(
        headers=operator_headers, excluded_checks=[checks.positive_data_acceptance]
    )
