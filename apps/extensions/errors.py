"""Errors of invoking extensions; each carries a code of the one error table."""

from apps.accounts.ids import InvalidUserId
from imperal_platform.errors import CodedError


class InvocationError(CodedError, Exception):
    """An invocation refused before the handler ran (or a handler that failed)."""

    code = "invalid_params"


class ExtensionNotFound(InvocationError):
    code = "not_found"

    def __init__(self, app_id):
        super().__init__(f"unknown extension {app_id!r}")
        self.app_id = app_id


class ExtensionDisabled(InvocationError):
    code = "extension_disabled"

    def __init__(self, app_id):
        super().__init__(f"extension {app_id!r} is disabled by an operator")
        self.app_id = app_id


class HandlerNotFound(InvocationError):
    code = "not_found"

    def __init__(self, app_id, kind, name, known):
        listing = ", ".join(sorted(known)) or "none"
        super().__init__(
            f"extension {app_id!r} has no {kind} {name!r} (it has: {listing})"
        )
        self.name = name


class UserRefused(InvocationError):
    """A call named a user it may not run as; ``user_id`` is that user."""

    # The message, with ``{user_id}`` filled in; each subclass says its rule.
    template = "user {user_id!r} is refused"

    def __init__(self, user_id):
        super().__init__(self.template.format(user_id=user_id))
        self.user_id = user_id


class UserNotFound(UserRefused):
    code = "not_found"
    template = (
        "unknown user {user_id!r} (create one with: manage.py user_token {user_id})"
    )


class ReservedUserId(UserRefused):
    """A call named a kernel identity (``__system__``, ``__webhook__``) as its user."""

    code = "invalid_argument"
    template = (
        "user id {user_id!r} is reserved for the kernel's system and webhook "
        "contexts; tools and panels run as a user"
    )


class InvalidParams(InvocationError):
    """Params that do not fit the handler's signature; ``problems`` is [(param, message)]."""

    code = "invalid_params"

    def __init__(self, label, problems):
        detail = "; ".join(f"param {name!r}: {message}" for name, message in problems)
        super().__init__(f"invalid params for {label}: {detail}")
        self.problems = problems


class HandlerTimeout(InvocationError):
    """The handler ran past its timeout and was cancelled."""

    code = "timeout"

    def __init__(self, label, timeout):
        super().__init__(
            f"{label} did not finish within {timeout:g} s and was cancelled "
            "(IMPERAL_HANDLER_TIMEOUT, per extension IMPERAL_HANDLER_TIMEOUTS)"
        )
        self.timeout = timeout


class HandlerFailed(InvocationError):
    """The handler ran and raised; the original exception is ``__cause__``.

    When what it raised is a platform surface's outage (a ``CodedError`` with
    code ``unavailable``, e.g. StoreUnavailable), the failure keeps that code
    and its ``retry_after``: the caller gets the retryable 503 of an outage,
    not the 500 of a broken handler. A user id the platform refused
    (InvalidUserId: a webhook passing on ``ctx.as_user(query_params["uid"])``)
    keeps its ``invalid_argument``: the sender's bad input is a 400.
    """

    code = "handler_failed"

    def __init__(self, label, exc):
        super().__init__(f"{label} failed: {type(exc).__name__}: {exc}")
        self.exc = exc
        if isinstance(exc, CodedError) and exc.code == "unavailable":
            self.code = "unavailable"
            self.retry_after = getattr(exc, "retry_after", None)
        elif isinstance(exc, InvalidUserId):
            self.code = exc.code
