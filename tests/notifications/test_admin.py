"""The operator's Notification admin: read-only, filterable by priority and read state."""

import pytest
from django.urls import reverse

from apps.notifications.models import Notification

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:notifications_notification_changelist"


@pytest.fixture
def notes():
    read = Notification.objects.create(
        tenant_id="default", app_id="probe", user_id="alice", message="seen it"
    )
    Notification.objects.filter(pk=read.pk).update(read_at=read.created_at)
    Notification.objects.create(
        tenant_id="default",
        app_id="probe",
        user_id="bob",
        message="still new",
        priority=Notification.Priority.URGENT,
    )


def test_the_changelist_offers_the_models_priorities(admin_client, notes):
    page = admin_client.get(reverse(CHANGELIST)).content.decode()
    for priority in Notification.Priority:
        assert f"?priority__exact={priority.value}" in page
    assert "seen it" in page and "still new" in page


def test_operators_filter_unread_notifications(admin_client, notes):
    page = admin_client.get(reverse(CHANGELIST), {"read_at__isempty": "1"})
    body = page.content.decode()
    assert "still new" in body
    assert "seen it" not in body


def test_operators_cannot_add_notifications(admin_client):
    add = admin_client.get(reverse("admin:notifications_notification_add"))
    assert add.status_code == 403
    assert Notification.objects.count() == 0
