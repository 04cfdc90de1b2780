"""Cron parsing (croniter + Celery's crontab) and slot computation."""

import datetime

import pytest

from apps.scheduler.cron import InvalidCron, parse_cron, slot_for, slot_label

UTC = datetime.UTC


def at(*parts):
    return datetime.datetime(*parts, tzinfo=UTC)


def test_a_cron_becomes_crontab_fields():
    assert parse_cron("*/5 8-17 * * 1-5") == {
        "minute": "*/5",
        "hour": "8-17",
        "day_of_month": "*",
        "month_of_year": "*",
        "day_of_week": "1-5",
    }


@pytest.mark.parametrize(
    "cron, reason",
    [
        ("61 * * * *", "not a valid cron expression"),
        ("* * * *", "exactly 5 fields"),
        ("* * * * * *", "exactly 5 fields"),
        ("@hourly", "exactly 5 fields"),
        ("", "exactly 5 fields"),
        (None, "exactly 5 fields"),
        ("0 0 * * 7", "Celery beat refuses it"),
        ("a b c d e", "not a valid cron expression"),
    ],
)
def test_invalid_crons_name_the_extension_and_schedule(cron, reason):
    with pytest.raises(InvalidCron) as caught:
        parse_cron(cron, "my-app", "digest")
    message = str(caught.value)
    assert message.startswith("extension 'my-app' schedule 'digest': invalid cron")
    assert reason in message


@pytest.mark.parametrize(
    "cron, when, slot",
    [
        ("0 8 * * *", at(2026, 11, 27, 8, 0, 40), at(2026, 11, 27, 8, 0)),
        ("0 8 * * *", at(2026, 11, 27, 8, 3, 0), at(2026, 11, 27, 8, 0)),
        ("0 8 * * *", at(2026, 11, 27, 7, 59, 59), at(2026, 11, 26, 8, 0)),
        ("* * * * *", at(2026, 11, 27, 8, 7, 59, 999999), at(2026, 11, 27, 8, 7)),
        ("*/15 * * * *", at(2026, 11, 27, 8, 44, 1), at(2026, 11, 27, 8, 30)),
    ],
)
def test_the_slot_is_the_cron_match_time_not_now(cron, when, slot):
    assert slot_for(cron, when) == slot


def test_slots_are_computed_in_utc_and_labelled_to_the_minute():
    berlin = datetime.timezone(datetime.timedelta(hours=1))
    when = datetime.datetime(2026, 11, 27, 9, 0, 30, tzinfo=berlin)
    assert slot_label(slot_for("0 8 * * *", when)) == "2026-11-27T08:00Z"
