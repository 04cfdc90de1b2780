"""The one exception handler, called directly for errors a route rarely raises."""

from django.core.exceptions import RequestDataTooBig

from apps.common.http import exception_handler


def test_a_body_over_djangos_upload_limit_names_the_platform_setting(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    answer = exception_handler(RequestDataTooBig("Request body exceeded …"), {})
    assert answer.status_code == 413
    error = answer.data["error"]
    assert error["code"] == "payload_too_large"
    assert "limit is 1024 bytes (IMPERAL_HTTP_MAX_BODY_BYTES)" in error["message"]
    assert "DATA_UPLOAD_MAX_MEMORY_SIZE" not in error["message"]
