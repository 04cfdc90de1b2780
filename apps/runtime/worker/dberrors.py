"""ctx.db's errors in an isolated worker: apps.db.errors' classes, by the same names.

The platform runs a worker's statements (apps/gateway/views/db.py) and answers
an error with its class's name; the worker raises the class of that name
here, with the platform's message, so a handler sees what it would see
in-process: ``DbPermissionError`` is a ``PermissionError``, ``DbParameterError``
a ``ValueError``, each has ``sqlstate``, a ``DbTimeout`` its ``limit``,
``seconds`` and ``app_id``. They are not the same class objects as
``apps.db.errors``' (a worker loads no platform code): catch them by these
names from here, or by their built-in bases.
"""


class DbError(Exception):
    """A ctx.db statement or connection failed; ``sqlstate`` when the database said."""

    code = "internal"

    def __init__(self, message, *, sqlstate=None):
        super().__init__(message)
        self.sqlstate = sqlstate


class DbParameterError(DbError, ValueError):
    """The statement's ``:name`` parameters do not match ``params``; nothing ran."""

    code = "invalid_argument"


class DbPermissionError(DbError, PermissionError):
    """The database refused the statement: it reaches beyond the extension's own data."""

    code = "forbidden"


class DbIntegrityError(DbError):
    """A constraint (unique, foreign key, not null, check) refused the change."""

    code = "conflict"


class DbDataError(DbError):
    """A value does not fit its column or operation (bad cast, overflow, bad input)."""

    code = "invalid_argument"


class DbProgrammingError(DbError):
    """The SQL is wrong: syntax, an unknown table or column, a wrong type."""

    code = "invalid_argument"


class DbOperationalError(DbError):
    """The database (or the platform's way to it) is unreachable, busy or refused."""


class DbTimeout(DbOperationalError):
    """A statement ran, waited for a lock, or left its transaction idle past a limit."""

    code = "unavailable"

    def __init__(self, message, *, limit=None, seconds=None, app_id=None, **kw):
        super().__init__(message, **kw)
        self.limit = limit
        self.seconds = seconds
        self.app_id = app_id


class DbSessionNotHeld(DbOperationalError):
    """The gateway process this request reached does not hold the session."""

    code = "session_not_held"


class DbSessionLimit(DbOperationalError):
    """The extension holds as many sessions in the gateway process as it may."""

    code = "unavailable"


_BY_NAME = {
    cls.__name__: cls
    for cls in (
        DbError,
        DbParameterError,
        DbPermissionError,
        DbIntegrityError,
        DbDataError,
        DbProgrammingError,
        DbOperationalError,
        DbTimeout,
        DbSessionNotHeld,
        DbSessionLimit,
    )
}


def error_of(status, payload):
    """Return the DbError for a gateway answer ``payload`` with HTTP ``status``.

    The class is the one ``detail.error`` names; an answer without one (the
    gateway refused the call token, or could not be reached) is a
    DbOperationalError whose message says so.
    """
    error = payload.get("error") if isinstance(payload, dict) else None
    error = error if isinstance(error, dict) else {}
    detail = error.get("detail") if isinstance(error.get("detail"), dict) else {}
    cls = _BY_NAME.get(detail.get("error"))
    message = error.get("message") or f"the gateway answered {status}"
    if cls is None:
        return DbOperationalError(
            f"ctx.db: the platform refused the request ({status} "
            f"{error.get('code') or 'error'}): {message}"
        )
    if cls is DbTimeout:
        return DbTimeout(
            message,
            sqlstate=detail.get("sqlstate"),
            limit=detail.get("limit"),
            seconds=detail.get("seconds"),
            app_id=detail.get("app_id"),
        )
    return cls(message, sqlstate=detail.get("sqlstate"))
