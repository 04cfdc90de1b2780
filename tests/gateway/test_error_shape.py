"""Every error of an HTTP face answers in one shape, with the error table's status."""

import logging

import pytest

from .conftest import STORE_PATH, error_of
from .error_urls import SECRET_IN_TRACEBACK


@pytest.fixture
def failing_urls(settings):
    settings.ROOT_URLCONF = "tests.gateway.error_urls"


@pytest.mark.parametrize(
    "kind, status, code",
    [
        ("value", 400, "invalid_argument"),
        ("permission", 403, "forbidden"),
    ],
)
def test_caller_mistakes_answer_with_their_code(
    gateway, failing_urls, kind, status, code
):
    response = gateway.get(f"/fail/{kind}")
    assert response.status_code == status
    assert error_of(response)["code"] == code


def test_an_unexpected_error_is_a_500_with_an_id_and_no_traceback(
    gateway, failing_urls, caplog
):
    caplog.set_level(logging.ERROR, logger="imperal.http")
    response = gateway.get("/fail/internal")
    assert response.status_code == 500
    error = error_of(response)
    assert error["code"] == "internal"
    error_id = error["detail"]["error_id"]
    assert error_id in error["message"]
    body = response.content.decode()
    assert "Traceback" not in body and "boom" not in body
    assert SECRET_IN_TRACEBACK not in body
    (record,) = [r for r in caplog.records if error_id in r.getMessage()]
    assert record.exc_info is not None  # the traceback is in the log, under the id


@pytest.mark.parametrize("kind, retry_after", [("database", "5"), ("store", "7")])
def test_an_outage_is_a_503_with_retry_after(gateway, failing_urls, kind, retry_after):
    response = gateway.get(f"/fail/{kind}")
    assert response.status_code == 503
    assert response["Retry-After"] == retry_after
    error = error_of(response)
    assert error["code"] == "unavailable"
    assert error["detail"]["retry_after"] == int(retry_after)


def test_a_view_that_names_no_permission_refuses(gateway, failing_urls):
    response = gateway.get("/names-nothing")
    assert response.status_code == 403
    assert "names no permission" in error_of(response)["message"]


def test_malformed_json_is_400(gateway, wide_token):
    response = gateway.post(STORE_PATH, b'{"collection": ', token=wide_token)
    assert response.status_code == 400
    error = error_of(response)
    assert (error["code"], error["message"][:16]) == (
        "invalid_argument",
        "JSON parse error",
    )


def test_deeply_nested_json_is_400_not_a_crash(gateway, wide_token):
    response = gateway.post(STORE_PATH, b"[" * 100_000, token=wide_token)
    assert response.status_code == 400


def test_a_body_that_is_not_an_object_is_400(gateway, wide_token):
    response = gateway.post(STORE_PATH, [1, 2], token=wide_token)
    assert response.status_code == 400
    assert "must be a JSON object, got list" in error_of(response)["message"]


def test_another_media_type_is_415(gateway, wide_token):
    response = gateway.post(
        STORE_PATH, b"collection=x", token=wide_token, content_type="text/plain"
    )
    assert response.status_code == 415
    assert error_of(response)["code"] == "unsupported_media_type"


def test_an_unsupported_method_is_405(gateway, wide_token):
    response = gateway.request("PUT", STORE_PATH, {}, token=wide_token)
    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"


@pytest.mark.parametrize(
    "path",
    ["/v1/internal/nothing", "/v1/internal/store/a/b/c", "/v1/internal/store//x"],
)
def test_an_unknown_gateway_path_is_404_in_the_shape(gateway, path):
    response = gateway.get(path)
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_a_body_over_the_limit_is_413_and_not_read(gateway, wide_token, settings):
    settings.IMPERAL_HTTP_MAX_BODY_BYTES = 1000
    body = {"collection": "notes", "data": {"x": "y" * 2000}, "user_id": "alice"}
    response = gateway.post(STORE_PATH, body, token=wide_token)
    assert response.status_code == 413
    error = error_of(response)
    assert error["code"] == "payload_too_large"
    assert "limit is 1000 bytes (IMPERAL_HTTP_MAX_BODY_BYTES)" in error["message"]
