"""The one error table: every surface error carries a stable ``code``; this maps codes
to the HTTP status every face (CLI, gateway, REST API, console) answers with.

A surface error class sets ``code`` to one of the keys of HTTP_STATUS. Caller
mistakes that are plain ``ValueError``/``TypeError`` (the cores' validation) are
``invalid_argument``; a ``PermissionError`` is ``forbidden``; anything else that
reaches a face is ``internal`` and never shows its traceback.
"""

HTTP_STATUS = {
    "invalid_argument": 400,
    "invalid_params": 400,
    "unauthenticated": 401,
    "forbidden": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "not_acceptable": 406,
    "conflict": 409,
    "extension_disabled": 409,
    "secret_missing": 409,
    "payload_too_large": 413,
    "unsupported_media_type": 415,
    "throttled": 429,
    "internal": 500,
    "handler_failed": 500,
    "unavailable": 503,
    "timeout": 504,
}


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
    """Return the HTTP status of an exception, through its code."""
    return HTTP_STATUS[error_code(exc)]


class CodedError:
    """Mixin for error classes: ``status`` follows ``code`` through HTTP_STATUS."""

    code = "internal"

    @property
    def status(self):
        return HTTP_STATUS[self.code]
