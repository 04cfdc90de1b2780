"""sync_extensions keeps one beat entry per @ext.schedule."""

import json

import pytest
from django_celery_beat.models import PeriodicTask

from apps.extensions.sync import sync_extensions
from apps.scheduler.beat import FIRE_TASK, PRUNER_NAME, REAPER_NAME
from apps.scheduler.models import Schedule

pytestmark = pytest.mark.django_db
TICKER = "tests.fixtures.extensions.ticker"


def test_each_schedule_gets_a_utc_crontab_entry_named_app_colon_schedule(
    use_extensions,
):
    sync_extensions(use_extensions(TICKER))
    task = PeriodicTask.objects.get(name="ticker:every_minute")
    assert task.task == FIRE_TASK
    assert json.loads(task.kwargs) == {"app_id": "ticker", "schedule": "every_minute"}
    assert task.enabled
    crontab = task.crontab
    fields = (
        crontab.minute,
        crontab.hour,
        crontab.day_of_month,
        crontab.month_of_year,
        crontab.day_of_week,
    )
    assert fields == ("*", "*", "*", "*", "*")
    assert str(crontab.timezone) == "UTC"
    assert set(
        Schedule.objects.filter(app_id="ticker").values_list("name", flat=True)
    ) == {"every_minute", "slow", "broken", "paced"}
    assert PeriodicTask.objects.filter(name=REAPER_NAME).exists()
    pruner = PeriodicTask.objects.get(name=PRUNER_NAME)
    assert (pruner.crontab.minute, pruner.crontab.hour) == ("17", "*")


def test_an_invalid_cron_is_an_error_naming_it_and_the_rest_sync(use_extensions):
    summary = sync_extensions(use_extensions("tests.fixtures.extensions.bad_cron"))
    assert summary["errors"] == [
        "extension 'bad-cron' schedule 'sixty_one': invalid cron '61 * * * *': "
        "not a valid cron expression"
    ]
    assert not PeriodicTask.objects.filter(name="bad-cron:sixty_one").exists()
    assert PeriodicTask.objects.get(name="bad-cron:good").crontab.day_of_week == "1-5"


def test_a_vanished_schedule_is_disabled_not_deleted_and_comes_back(use_extensions):
    sync_extensions(use_extensions(TICKER))
    sync_extensions(use_extensions("tests.fixtures.extensions.probe"))
    task = PeriodicTask.objects.get(name="ticker:every_minute")
    assert task.enabled is False
    schedule = Schedule.objects.get(app_id="ticker", name="every_minute")
    assert (schedule.present, schedule.disabled_by_sync) == (False, True)
    sync_extensions(use_extensions(TICKER))
    task.refresh_from_db()
    assert task.enabled is True


def test_an_operators_switch_survives_resync(use_extensions):
    sync_extensions(use_extensions(TICKER))
    PeriodicTask.objects.filter(name="ticker:slow").update(enabled=False)
    sync_extensions(use_extensions(TICKER))
    assert PeriodicTask.objects.get(name="ticker:slow").enabled is False
    # ...also across the schedule vanishing and coming back.
    sync_extensions(use_extensions("tests.fixtures.extensions.probe"))
    sync_extensions(use_extensions(TICKER))
    assert PeriodicTask.objects.get(name="ticker:slow").enabled is False
    assert PeriodicTask.objects.get(name="ticker:every_minute").enabled is True
