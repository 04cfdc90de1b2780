"""A quota refusal through the gateway: imperal-sdk's StoreClient and CacheClient
routes answer quota_exceeded (507) in the one error shape; nothing is written."""

import pytest

from apps.store.models import Document

from .conftest import APP, STORE_PATH, error_of


def create(gateway, token, data):
    body = {"collection": "notes", "data": data, "user_id": "alice"}
    return gateway.post(STORE_PATH, body, token=token)


@pytest.mark.django_db
def test_a_create_past_the_quota_answers_507_and_writes_nothing(
    gateway, wide_token, settings
):
    settings.IMPERAL_QUOTAS = {APP: {"store.documents": 1}}
    assert create(gateway, wide_token, {"n": 1}).status_code == 201

    response = create(gateway, wide_token, {"n": 2})

    assert response.status_code == 507
    error = error_of(response)
    assert error["code"] == "quota_exceeded"
    assert error["detail"]["kind"] == "store.documents"
    assert (error["detail"]["limit"], error["detail"]["usage"]) == (1, 1)
    assert Document.objects.filter(app_id=APP, user_id="alice").count() == 1
