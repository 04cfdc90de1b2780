"""Errors of ctx.db: what an extension sees, whichever database runs its SQL.

Backends translate their driver's exceptions into these at the edge; the
driver's exception stays reachable as ``__cause__`` for operators' tracebacks.
"""

from apps.common.errors import CodedError


class DbError(CodedError, Exception):
    """A ctx.db statement or connection failed.

    ``sqlstate`` is the five-character SQLSTATE when the database reported one
    (PostgreSQL), else None.
    """

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
    """The database is unreachable, busy, locked, or cancelled the statement."""


class DbTimeout(DbOperationalError):
    """A statement ran, waited for a lock, or left its transaction idle past a limit.

    ``limit`` names the IMPERAL_DB setting (``"STATEMENT_TIMEOUT"``,
    ``"LOCK_TIMEOUT"`` or ``"IDLE_IN_TRANSACTION_TIMEOUT"``), ``seconds`` its
    value for the extension ``app_id``. The statement's work was rolled back.
    """

    def __init__(self, message, *, limit, seconds, app_id, sqlstate=None):
        super().__init__(message, sqlstate=sqlstate)
        self.limit = limit
        self.seconds = seconds
        self.app_id = app_id

    code = "unavailable"


class DbSessionNotHeld(DbOperationalError):
    """A worker's ctx.db session id names no transaction this gateway process holds.

    The id is unknown here, was ended, belongs to another invocation, or is
    held by another process of the same server (a session lives in the
    process that opened it). ``foreign`` is True when another invocation's
    call token presented it; the answer does not tell the caller so.
    """

    code = "session_not_held"

    def __init__(self, message, *, foreign=False):
        super().__init__(message)
        self.foreign = foreign


class DbSessionLimit(DbOperationalError):
    """An extension holds as many worker sessions in this process as it may."""

    code = "unavailable"
    retry_after = 1


class MigrationError(DbError):
    """An extension's SQL migration file failed; ``filename`` names it."""

    code = "internal"

    def __init__(self, app_id, filename, message, *, sqlstate=None):
        super().__init__(
            f"migration {filename} of extension {app_id!r} failed: {message}",
            sqlstate=sqlstate,
        )
        self.app_id = app_id
        self.filename = filename


class MigrationChanged(MigrationError):
    """An already-applied migration file no longer matches its recorded checksum."""

    def __init__(self, app_id, filename, recorded, current):
        super().__init__(
            app_id,
            filename,
            f"the file changed after it was applied (recorded checksum {recorded[:12]}, "
            f"now {current[:12]}); restore it and put the change in a new file",
        )
        self.recorded = recorded
        self.current = current
