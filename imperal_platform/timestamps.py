"""The one timestamp format of every answer: RFC 3339 in UTC, with microseconds and ``Z``.

``2026-12-06T22:09:36.123456Z``: documents, runs, tokens, health results, the
REST API's fields (DRF's ``DATETIME_FORMAT``) and what handlers return.
"""

import datetime

FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def rfc3339(moment):
    """Return ``moment`` in the one format; a naive datetime is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.astimezone(datetime.UTC).strftime(FORMAT)
