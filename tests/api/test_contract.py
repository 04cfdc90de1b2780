"""One API contract: the error shape on routes nobody serves, ``detail.fields`` on bad
params, a caller's bad cursor as a 400, one timestamp format, a hint on the wrong
``Authorization`` scheme."""

import json
import re

import pytest

from apps.store.models import Document

from .conftest import Api, error_of

pytestmark = pytest.mark.django_db
TOOL = "/api/v1/extensions/{app}/tools/{tool}/call"
# RFC 3339 in UTC with microseconds and Z: apps.common.timestamps.FORMAT.
ONE_FORMAT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", "/api/v1/nope"),
        ("post", "/api/v1/extensions/probe/tools"),
        ("delete", "/api/v2/extensions"),
        ("get", "/v1/internal/nope"),
        ("put", "/v1/internal/store/notes/d1/extra"),
        ("get", "/v1/extensions/probe/nope"),
    ],
)
def test_a_route_nobody_serves_answers_404_in_the_error_shape(
    as_alice, settings, method, path
):
    settings.DEBUG = False
    response = as_alice.request(method, path)
    assert response["Content-Type"].startswith("application/json")
    error = error_of(response, 404)
    assert error["code"] == "not_found"
    assert path in error["message"]


def test_a_page_nobody_serves_is_an_html_page_with_a_way_back(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "Page not found" in page
    assert 'href="/admin/"' in page and 'href="/"' in page


def test_bad_params_name_each_field_and_its_rule_in_detail_fields(as_alice):
    response = as_alice.post(
        TOOL.format(app="probe", tool="greet"),
        {"params": {"times": "many", "extra": 1}},
    )
    error = error_of(response, 400)
    assert error["code"] == "invalid_params"
    fields = error["detail"]["fields"]
    assert set(fields) == {"name", "times", "extra"}
    assert fields["name"] == "missing (required)"
    assert fields["extra"] == "unknown param"
    assert "integer" in fields["times"] and "'many'" in fields["times"]


@pytest.mark.parametrize("cursor", ["garbage", "x.y", "AAAA.AAAA"])
def test_a_garbage_cursor_passed_to_a_tool_is_a_400_not_a_500(as_alice, cursor):
    as_alice.post(
        TOOL.format(app="api-probe", tool="remember"), {"params": {"text": "a"}}
    )
    before = list(Document.objects.values_list("id", "data"))
    response = as_alice.post(
        TOOL.format(app="api-probe", tool="notes"), {"params": {"cursor": cursor}}
    )
    error = error_of(response, 400)
    assert error["code"] == "invalid_cursor"
    assert "cursor is not valid" in error["message"]
    assert list(Document.objects.values_list("id", "data")) == before


def test_a_cursor_from_a_page_still_pages(as_alice):
    for text in ("a", "b", "c"):
        as_alice.post(
            TOOL.format(app="api-probe", tool="remember"), {"params": {"text": text}}
        )
    url = TOOL.format(app="api-probe", tool="notes")
    first = as_alice.post(url, {"params": {"limit": 2}}).json()["result"]
    second = as_alice.post(
        url, {"params": {"limit": 2, "cursor": first["cursor"]}}
    ).json()["result"]
    assert first["texts"] + second["texts"] == ["a", "b", "c"]


def test_every_answer_writes_timestamps_one_way(as_alice, alice):
    as_alice.post(
        TOOL.format(app="api-probe", tool="remember"), {"params": {"text": "a"}}
    )
    as_alice.post(TOOL.format(app="probe", tool="greet"), {"params": {"name": "x"}})
    export = as_alice.get("/api/v1/me/data/export")
    document = _streamed_json(export)["documents"][0]
    notification = as_alice.get("/api/v1/notifications").json()["data"][0]
    stamps = [
        document["created_at"],
        document["updated_at"],
        notification["created_at"],
    ]
    assert all(ONE_FORMAT.match(stamp) for stamp in stamps), stamps


@pytest.mark.parametrize("header", ["Bearer abc", "Basic YWxpY2U6eA==", "token-only"])
def test_another_authorization_scheme_is_a_401_that_names_the_right_one(alice, header):
    response = Api().get("/api/v1/extensions", HTTP_AUTHORIZATION=header)
    error = error_of(response, 401)
    assert error["code"] == "unauthenticated"
    assert "'Authorization: Token <token>'" in error["message"]
    assert header.split()[0] in error["message"]


def _streamed_json(response):
    return json.loads(b"".join(response.streaming_content))
