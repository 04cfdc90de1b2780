"""A user inventing app ids in URLs grows neither /metrics' label values nor the
SecurityEvent table: an app id no loaded extension has is "(unknown)" in both."""

import re
import uuid

import pytest
from django.test import Client

from apps.accounts.models import ApiToken, SecurityEvent
from apps.accounts.partition import Partition
from apps.accounts.security import UNKNOWN_APP, record_threat

pytestmark = pytest.mark.django_db

KIND = "api_call_user_mismatch"
LOADED = "probe"


@pytest.fixture(autouse=True)
def registry(use_extensions, settings):
    settings.IMPERAL_API_RATES = {"user": ""}
    return use_extensions("tests.fixtures.extensions.probe")


def scrape(client):
    """Return every app_id label value of the threat counter on /metrics."""
    answer = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert answer.status_code == 200
    text = answer.content.decode()
    return set(
        re.findall(r'^imperal_store_threat_total\{[^}]*app_id="([^"]*)"', text, re.M)
    )


def call_as_bob(client, token, app_id):
    return client.post(
        f"/v1/extensions/{app_id}/call",
        {"user_id": "bob", "function": "anything", "params": {}},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {token}",
    )


def test_invented_app_ids_add_no_label_value_and_one_row(alice):
    client, token = Client(), ApiToken.issue(alice)[1]
    invented = [f"made-up-{uuid.uuid4().hex[:8]}" for _ in range(40)]
    before = SecurityEvent.objects.count()

    statuses = {call_as_bob(client, token, app_id).status_code for app_id in invented}

    assert statuses == {403}  # each attempt is still refused, and counted
    labels = scrape(client)
    assert not labels & set(invented)
    assert UNKNOWN_APP in labels
    rows = SecurityEvent.objects.filter(kind=KIND, user_id="alice")
    assert SecurityEvent.objects.count() - before <= 2  # an interval may turn over
    assert set(rows.values_list("app_id", flat=True)) == {UNKNOWN_APP}
    assert rows.attempts() == len(invented)
    assert rows.order_by("created_at").first().detail["asked_app_id"] == invented[0]


def test_a_loaded_extension_keeps_its_own_label_and_rows(alice):
    client, token = Client(), ApiToken.issue(alice)[1]
    assert call_as_bob(client, token, LOADED).status_code == 403

    assert LOADED in scrape(client)
    event = SecurityEvent.objects.get(kind=KIND, user_id="alice")
    assert event.app_id == LOADED
    assert "asked_app_id" not in event.detail


def test_the_rule_holds_for_every_caller_of_record_threat():
    huge = "x" * 5000
    record_threat("probe_kind", Partition("default", huge, "alice"), target="bob")

    event = SecurityEvent.objects.get(kind="probe_kind")
    assert event.app_id == UNKNOWN_APP
    assert len(event.detail["asked_app_id"]) <= 200
    assert event.detail["target"] == "bob"
