"""The one error table: every surface error carries a stable ``code``; this maps codes
to the HTTP status every face (CLI, gateway, REST API, console) answers with.

A surface error class sets ``code`` to one of the keys of HTTP_STATUS. Caller
mistakes that are plain ``ValueError``/``TypeError`` (the cores' validation) are
``invalid_argument``; a ``PermissionError`` is ``forbidden``; anything else that
reaches a face is ``internal`` and never shows its traceback.

Error text may quote a connection string; :func:`without_credentials` masks
its password before a log line or an operator page shows it.
"""

import logging
import re

HTTP_STATUS = {
    "invalid_argument": 400,
    "invalid_params": 400,
    "invalid_cursor": 400,
    "unauthenticated": 401,
    "forbidden": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "not_acceptable": 406,
    "conflict": 409,
    "extension_disabled": 409,
    "secret_missing": 409,
    # A ctx.db session id this gateway process does not hold (apps.db.relay).
    "session_not_held": 409,
    "payload_too_large": 413,
    "unsupported_media_type": 415,
    "throttled": 429,
    # 507 for what is held (documents, bytes, entries), 429 for a rate: the
    # error's own ``status`` (apps.quotas.errors.QuotaExceeded) says which.
    "quota_exceeded": 507,
    "internal": 500,
    "handler_failed": 500,
    "not_served": 501,
    "bad_gateway": 502,
    "unavailable": 503,
    "runtime_busy": 503,
    "timeout": 504,
}

#: Codes whose error carries its own status (each listed here).
VARIABLE_STATUS = {"quota_exceeded": (429, 507)}


def error_code(exc):
    """Return the table's code for an exception (see the module docstring)."""
    code = getattr(exc, "code", None)
    if code in HTTP_STATUS:
        return code
    if isinstance(exc, PermissionError):
        return "forbidden"
    if isinstance(exc, ValueError | TypeError | LookupError):
        return "invalid_argument"
    return "internal"


def http_status(exc):
    """Return the HTTP status of an exception: its code's, or, for a code that
    answers more than one, the status the error carries."""
    code = error_code(exc)
    status = getattr(exc, "status", None) if code in VARIABLE_STATUS else None
    return status if isinstance(status, int) else HTTP_STATUS[code]


class CodedError:
    """Mixin for error classes: ``status`` follows ``code`` through HTTP_STATUS."""

    code = "internal"

    @property
    def status(self):
        return HTTP_STATUS[self.code]


# --- Credentials in error text ---------------------------------------------------

REDACTED = "***"
# The password of a URL's user information: scheme://user:password@host.
_URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://[^\s/@:]*):[^\s/@]+@")
# A key=value (or key: value) credential: libpq conninfo, query strings, headers.
_KEY_VALUE_SECRET = re.compile(
    r"(?i)\b(password|passwd|pwd|secret|token|api[_-]?key)(\s*[=:]\s*)"
    r"(\"[^\"]*\"|'[^']*'|[^\s&;,'\"]+)"
)


def without_credentials(text):
    """Return ``text`` with URL passwords and ``password=…``-style values masked.

    For messages of exceptions that may quote a connection string (a DSN, a
    broker URL, libpq conninfo): what a log line or the admin may show.
    """
    text = _URL_PASSWORD.sub(rf"\1:{REDACTED}@", str(text))
    return _KEY_VALUE_SECRET.sub(rf"\1\2{REDACTED}", text)


class CredentialMaskingFormatter(logging.Formatter):
    """A logging formatter whose lines (tracebacks included) pass through
    :func:`without_credentials`: the LOGGING formatter of every handler."""

    def format(self, record):
        """Return the formatted record with credentials masked."""
        return without_credentials(super().format(record))
