"""Parse 5-field UTC cron expressions and find the slot a moment belongs to."""

import datetime

from celery.schedules import crontab
from croniter import croniter

FIELDS = ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")


class InvalidCron(ValueError):
    """A schedule's cron expression that beat cannot run; names the schedule."""

    def __init__(self, app_id, schedule, cron, reason):
        super().__init__(
            f"extension {app_id!r} schedule {schedule!r}: invalid cron {cron!r}: {reason}"
        )


def parse_cron(cron, app_id="?", schedule="?"):
    """Return the five cron fields as a dict keyed like CrontabSchedule's columns.

    Raises InvalidCron unless ``cron`` is a standard 5-field expression that
    both croniter (slots) and Celery's crontab (beat) accept.
    """
    if not isinstance(cron, str) or len(cron.split()) != 5:
        raise InvalidCron(
            app_id, schedule, cron, "need exactly 5 fields (m h dom mon dow)"
        )
    if not croniter.is_valid(cron):
        raise InvalidCron(app_id, schedule, cron, "not a valid cron expression")
    fields = dict(zip(FIELDS, cron.split(), strict=True))
    try:
        crontab(**fields)
    except ValueError as exc:
        raise InvalidCron(
            app_id, schedule, cron, f"Celery beat refuses it ({exc})"
        ) from None
    return fields


def slot_for(cron, when):
    """Return the cron match time (UTC, whole minute) that ``when`` belongs to.

    That is ``when``'s own minute if it matches, else the latest match before it.
    """
    minute = when.astimezone(datetime.UTC).replace(second=0, microsecond=0)
    if croniter.match(cron, minute):
        return minute
    return croniter(cron, minute).get_prev(datetime.datetime)


def slot_label(slot_time):
    """Return the stored label of a cron slot, e.g. ``2026-11-27T08:00Z``."""
    return slot_time.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%MZ")
