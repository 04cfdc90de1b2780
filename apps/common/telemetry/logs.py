"""The platform's log formats: one line per record, as text or as JSON (LOG_FORMAT).

Every record gets the id of the request it was written in (``request_id``, from
the request's scope; None outside a request). A failure answered with an error
id carries it as ``error_id`` (and ``error_kind``); in JSON the traceback is the
``exc_info`` field of the same line. python-json-logger formats the JSON.
"""

import logging

import pythonjsonlogger.json
from django.core.exceptions import ImproperlyConfigured
from pythonjsonlogger.core import RESERVED_ATTRS

from apps.common.errors import CredentialMaskingFormatter, without_credentials

from . import context

FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Record attributes kept out of a JSON line: the logging module's own, and
# Django's ``request`` (its repr holds the query string).
JSON_RESERVED = (*RESERVED_ATTRS, "request")


class RequestIdFilter(logging.Filter):
    """Set ``record.request_id`` to the current request's id (None outside one)."""

    def filter(self, record):
        scope = context.current()
        record.request_id = scope.request_id if scope is not None else None
        return True


class TextFormatter(CredentialMaskingFormatter):
    """The text format, with ``[request id]`` before the message inside a request;
    credentials masked in the whole line, traceback included."""

    def __init__(self, fmt=TEXT_FORMAT, **kwargs):
        super().__init__(fmt, **kwargs)

    def formatMessage(self, record):
        line = super().formatMessage(record)
        request_id = getattr(record, "request_id", None)
        if not request_id:
            return line
        head, sep, message = line.partition(": ")
        return f"{head}{sep}[{request_id}] {message}" if sep else line


class JsonFormatter(pythonjsonlogger.json.JsonFormatter):
    """python-json-logger's JSON line, credentials masked in it (traceback included)."""

    def format(self, record):
        return without_credentials(super().format(record))


def logging_config(log_format, level):
    """Return Django's LOGGING dict for ``log_format`` ("text" or "json") at ``level``.

    Raises ImproperlyConfigured naming LOG_FORMAT for any other format.
    """
    if log_format not in FORMATS:
        raise ImproperlyConfigured(
            f"LOG_FORMAT must be one of {', '.join(FORMATS)}, got {log_format!r:.40}"
        )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "apps.common.telemetry.logs.RequestIdFilter"}},
        "formatters": {
            "text": {"()": "apps.common.telemetry.logs.TextFormatter"},
            "json": {
                "()": "apps.common.telemetry.logs.JsonFormatter",
                "fmt": "%(levelname)s %(name)s %(message)s",
                "rename_fields": {"levelname": "level", "name": "logger"},
                "timestamp": "time",
                "reserved_attrs": JSON_RESERVED,
            },
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": log_format,
                "filters": ["request_id"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django.db.backends": {"level": "INFO"},
            # The login throttle: failures and lockouts (WARNING), not every sign-in.
            "axes": {"level": "WARNING"},
            # httpx logs each request's full URL at INFO: an extension's query
            # strings and paths may hold its users' tokens.
            "httpx": {"level": "WARNING"},
            "httpcore": {"level": "WARNING"},
        },
    }
