"""The one timestamp format of every answer: RFC 3339 in UTC, with microseconds and ``Z``.

``2026-12-06T22:09:36.123456Z``: documents, runs, tokens, health results, the
REST API's fields (DRF's ``DATETIME_FORMAT``) and what handlers return.
"""

import datetime

FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def rfc3339(moment):
    """Return ``moment`` in the one format; a naive datetime is taken as UTC."""
    # isoformat is faster than strftime(FORMAT), and a page of documents formats
    # two timestamps per document; the usual moment is already UTC.
    text = moment.isoformat(timespec="microseconds")
    if text.endswith("+00:00"):
        return text[:-6] + "Z"
    if moment.tzinfo is None:
        return text + "Z"
    return rfc3339(moment.astimezone(datetime.UTC))
