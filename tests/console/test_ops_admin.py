"""What a new operator tripped over in the admin, fixed: read-only pages without
Save or Delete, humane durations, times to the second, a user's page linking to
their data with the partition key fixed, API tokens issued and revoked by action,
extensions' tools as tables, and `/` (the admin's "View site") answering."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.accounts.models import ApiToken, User, hash_token
from apps.common.admin import human_duration
from apps.extensions.models import LifecycleRun
from apps.extensions.sync import sync_extensions
from apps.notifications.models import Notification
from apps.scheduler.models import ScheduleRun

pytestmark = pytest.mark.django_db


@pytest.fixture
def schedule_run():
    now = timezone.now().replace(microsecond=0)
    return ScheduleRun.objects.create(
        app_id="probe",
        schedule="observe",
        slot="manual:x",
        status="success",
        started_at=now,
        finished_at=now,
        duration_ms=1234.5678,
    )


def page(client, name, *args, **query):
    answer = client.get(reverse(name, args=args), query)
    assert answer.status_code == 200, answer
    return answer.content.decode()


def test_read_only_pages_show_neither_save_nor_delete(
    admin_client, schedule_run, alice
):
    note = Notification.objects.create(
        tenant_id="default", app_id="probe", user_id="alice", message="hi"
    )
    token, _ = ApiToken.issue(alice)
    for name, pk in (
        ("admin:scheduler_schedulerun_change", schedule_run.pk),
        ("admin:notifications_notification_change", note.pk),
        ("admin:accounts_apitoken_change", token.pk),
    ):
        shown = page(admin_client, name, pk)
        assert 'name="_save"' not in shown and "deletelink" not in shown, name
    assert (
        admin_client.post(
            reverse("admin:scheduler_schedulerun_delete", args=[schedule_run.pk])
        ).status_code
        == 403
    )
    assert ScheduleRun.objects.filter(pk=schedule_run.pk).exists()


@pytest.mark.parametrize(
    "ms, words",
    [
        (None, "—"),
        (0.42, "0.4 ms"),
        (340.2, "340 ms"),
        (1234.5, "1.2 s"),
        (59_940, "59.9 s"),
        (125_000, "2 min 5 s"),
        (3_600_000, "1 h"),
        (3_840_000, "1 h 4 min"),
    ],
)
def test_durations_read_as_people_say_them(ms, words):
    assert human_duration(ms) == words


def test_run_lists_and_pages_show_durations_humanised_and_times_with_seconds(
    admin_client, schedule_run
):
    listing = page(admin_client, "admin:scheduler_schedulerun_changelist")
    assert "1.2 s" in listing and "1234.5678" not in listing
    assert f"{schedule_run.started_at:%Y-%m-%d %H:%M:%S}" in listing
    detail = page(admin_client, "admin:scheduler_schedulerun_change", schedule_run.pk)
    assert "1.2 s" in detail and "1234.5678" not in detail
    LifecycleRun.objects.create(
        app_id="probe", hook="on_install", status="success", duration_ms=340.2
    )
    assert "340 ms" in page(admin_client, "admin:extensions_lifecyclerun_changelist")


def test_a_users_page_links_to_their_data_and_fixes_the_partition_key(
    admin_client, alice
):
    shown = page(admin_client, "admin:accounts_user_change", alice.pk)
    for target in (
        "/admin/store/document/?user_id=alice&amp;tenant_id=default",
        "/admin/notifications/notification/?user_id=alice&amp;tenant_id=default",
        f"/admin/accounts/apitoken/?user__id__exact={alice.pk}",
        f"/admin/accounts/apitoken/add/?user={alice.pk}",
    ):
        assert target in shown
    assert 'name="imperal_id"' not in shown and 'name="tenant_id"' not in shown
    form = {
        "username": "alice",
        "imperal_id": "mallory",
        "tenant_id": "other",
        "role": alice.role,
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
    }
    admin_client.post(reverse("admin:accounts_user_change", args=[alice.pk]), form)
    alice.refresh_from_db()
    assert (alice.imperal_id, alice.tenant_id) == ("alice", "default")


def test_issuing_an_api_token_shows_it_once_and_stores_its_hash(admin_client, alice):
    answer = admin_client.post(
        reverse("admin:accounts_apitoken_add"),
        {"user": alice.pk, "expires": "30"},
        follow=True,
    )
    shown = answer.content.decode()
    token = ApiToken.objects.get(user=alice)
    raw = shown.split("New API token for alice: ")[1].split(" ")[0]
    assert raw.startswith(ApiToken.PREFIX) and token.token_hash == hash_token(raw)
    assert token.expires_at - timezone.now() > datetime.timedelta(days=29)
    again = page(admin_client, "admin:accounts_apitoken_change", token.pk)
    assert raw not in again and token.token_hash not in again


def test_the_issue_form_offers_no_date_to_type_and_refuses_a_made_up_expiry(
    admin_client, alice
):
    form = page(admin_client, "admin:accounts_apitoken_add", user=alice.pk)
    assert 'name="expires_at"' not in form and 'name="expires"' in form
    answer = admin_client.post(
        reverse("admin:accounts_apitoken_add"), {"user": alice.pk, "expires": "7000"}
    )
    assert (
        answer.status_code == 200 and "Select a valid choice" in answer.content.decode()
    )
    assert not ApiToken.objects.exists()


def test_the_revoke_action_revokes_only_the_selected_and_keeps_first_times(
    admin_client, alice, bob
):
    mine, _ = ApiToken.issue(alice)
    earlier = timezone.now() - datetime.timedelta(days=3)
    old, _ = ApiToken.issue(alice)
    ApiToken.objects.filter(pk=old.pk).update(revoked_at=earlier)
    theirs, _ = ApiToken.issue(bob)
    admin_client.post(
        reverse("admin:accounts_apitoken_changelist"),
        {"action": "revoke_now", "_selected_action": [mine.pk, old.pk]},
    )
    mine.refresh_from_db(), old.refresh_from_db(), theirs.refresh_from_db()
    assert mine.state() == "revoked" and theirs.state() == "active"
    assert old.revoked_at == earlier


def test_the_user_action_issues_a_token_for_each_selected_user(
    admin_client, alice, bob
):
    answer = admin_client.post(
        reverse("admin:accounts_user_changelist"),
        {"action": "issue_api_token", "_selected_action": [alice.pk, bob.pk]},
        follow=True,
    )
    assert answer.content.decode().count("copy it now") == 2
    assert ApiToken.objects.filter(user__in=[alice, bob]).count() == 2


def test_token_actions_need_their_permissions(client, alice):
    from django.contrib.auth.models import Permission

    viewer = User.objects.create(username="v", imperal_id="v", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_apitoken"))
    client.force_login(viewer)
    token, _ = ApiToken.issue(alice)
    listing = page(client, "admin:accounts_apitoken_changelist")
    assert "revoke_now" not in listing
    client.post(
        reverse("admin:accounts_apitoken_changelist"),
        {"action": "revoke_now", "_selected_action": [token.pk]},
    )
    token.refresh_from_db()
    assert token.revoked_at is None
    assert client.get(reverse("admin:accounts_apitoken_add")).status_code == 403


def test_an_extensions_tools_and_schedules_are_tables(admin_client, use_extensions):
    from apps.extensions.models import Extension

    sync_extensions(use_extensions("tests.fixtures.extensions.probe"))
    row = Extension.objects.get(app_id="probe")
    shown = page(admin_client, "admin:extensions_extension_change", row.pk)
    assert '<table class="imperal-table">' in shown
    assert "<td>greet</td>" in shown and "name*: string, times: integer" in shown
    assert "<td>observe</td><td>*/5 * * * *</td><td>Every 5 minutes UTC</td>" in shown
    assert '"properties"' not in shown


def test_the_landing_page_is_what_view_site_opens(client, admin_client):
    landing = client.get("/")
    assert landing.status_code == 200
    text = landing.content.decode()
    for target in ("/admin/", "/api/docs/", "/healthz"):
        assert f'href="{target}"' in text
    index = page(admin_client, "admin:index")
    assert 'href="/">View site' in index


def test_operator_actions_link_to_the_partition_they_touched(admin_client):
    from apps.api.models import OperatorAction

    OperatorAction.objects.create(
        operator="admin",
        operator_id="admin",
        action="export",
        tenant_id="default",
        app_id="console-probe",
        user_id="alice",
        documents=3,
    )
    listing = page(admin_client, "admin:api_operatoraction_changelist")
    target = reverse("console:partition", args=["console-probe", "alice"])
    assert f'href="{target}"' in listing
