"""Outbound calls in the admin: read only, each call's destination without its path."""

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.egress.models import OutboundCall

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:egress_outboundcall_changelist"


@pytest.fixture
def calls():
    common = {"tenant_id": "default", "started_at": timezone.now(), "method": "GET"}
    answered = OutboundCall.objects.create(
        **common,
        app_id="notes",
        user_id="alice",
        scheme="https",
        host="api.notes.example",
        port=443,
        status=200,
        duration_ms=41.5,
        outcome="ok",
        bytes_out=120,
        bytes_in=2048,
    )
    refused = OutboundCall.objects.create(
        **common,
        app_id="search",
        user_id="bob",
        scheme="http",
        host="169.254.169.254",
        port=80,
        duration_ms=0.4,
        outcome="refused",
        error_code="egress_refused",
        rule="link-local",
    )
    return answered, refused


def test_the_changelist_shows_who_called_where_and_how_it_ended(admin_client, calls):
    page = admin_client.get(reverse(CHANGELIST)).content.decode()
    assert "GET https://api.notes.example:443" in page and "notes · alice" in page
    assert "GET http://169.254.169.254:80" in page
    assert "refused (link-local)" in page and "2.0\xa0KB" in page
    assert "Outbound calls" in page


def test_operators_filter_refused_calls(admin_client, calls):
    page = admin_client.get(reverse(CHANGELIST), {"outcome__exact": "refused"})
    body = page.content.decode()
    assert "169.254.169.254" in body and "api.notes.example" not in body


def test_a_call_is_read_only(admin_client, calls):
    answered, _ = calls
    change = reverse("admin:egress_outboundcall_change", args=[answered.pk])
    assert admin_client.get(change).status_code == 200
    assert admin_client.post(change, {"host": "elsewhere.example"}).status_code == 403
    delete = reverse("admin:egress_outboundcall_delete", args=[answered.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert admin_client.get(reverse("admin:egress_outboundcall_add")).status_code == 403
    answered.refresh_from_db()
    assert answered.host == "api.notes.example"
    assert OutboundCall.objects.count() == 2
