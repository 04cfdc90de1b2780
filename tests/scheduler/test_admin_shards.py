"""The admin edits a schedule's shards and catch-up policy, and shows each shard."""

import pytest
from django.urls import reverse

from apps.extensions.sync import sync_extensions
from apps.scheduler.fire import fire_schedule, manual_slot
from apps.scheduler.models import Schedule

pytestmark = pytest.mark.django_db
DIGEST = "tests.scheduler.digest_extension"


@pytest.fixture
def operator(client, django_user_model, use_extensions):
    sync_extensions(use_extensions(DIGEST))
    user = django_user_model.objects.create_superuser(
        username="ops", imperal_id="ops", email="ops@example.com", password="pw"
    )
    client.force_login(user)
    return client


def change(client, schedule, **values):
    url = reverse("admin:scheduler_schedule_change", args=[schedule.pk])
    data = {"timeout_seconds": "", "shards": "1", "catch_up": "run-once", **values}
    return client.post(url, {**data, "_continue": "1"})


def test_shards_and_catch_up_are_shown_and_switched_in_the_admin(operator):
    schedule = Schedule.objects.get(app_id="digest", name="daily")
    page = operator.get(reverse("admin:scheduler_schedule_change", args=[schedule.pk]))
    assert b'name="shards"' in page.content and b'name="catch_up"' in page.content
    assert b"run once, late" in page.content

    assert change(operator, schedule, shards="8", catch_up="skip").status_code == 302
    schedule.refresh_from_db()
    assert (schedule.shards, schedule.catch_up) == (8, "skip")


@pytest.mark.parametrize(
    "values", [{"shards": "0"}, {"shards": "257"}, {"catch_up": "sometimes"}]
)
def test_a_bad_shard_count_or_policy_is_refused_and_nothing_changes(operator, values):
    schedule = Schedule.objects.get(app_id="digest", name="daily")
    page = change(operator, schedule, **values)
    assert page.status_code == 200 and b"errorlist" in page.content
    schedule.refresh_from_db()
    assert (schedule.shards, schedule.catch_up) == (1, "run-once")


def test_a_sharded_runs_page_lists_each_shard(operator):
    Schedule.objects.filter(app_id="digest", name="daily").update(shards=3)
    run = fire_schedule("digest", "daily", slot=manual_slot(), local=True)
    page = operator.get(reverse("admin:scheduler_schedulerun_change", args=[run.pk]))
    assert page.status_code == 200
    assert page.content.count(b"field-index") == 3
