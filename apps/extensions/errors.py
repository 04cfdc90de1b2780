"""Errors of invoking extensions; each carries a code of the one error table."""

from apps.accounts.ids import InvalidUserId
from apps.common.errors import CodedError


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
    """Params that do not fit the handler's signature; ``problems`` is [(param, message)].

    ``fields`` maps each bad param to its rule, for an answer's ``detail.fields``.
    """

    code = "invalid_params"

    def __init__(self, label, problems):
        detail = "; ".join(f"param {name!r}: {message}" for name, message in problems)
        super().__init__(f"invalid params for {label}: {detail}")
        self.problems = problems

    @property
    def fields(self):
        return {name: message for name, message in self.problems}


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

    When what it raised is a platform surface's error that is not the
    handler's fault (a ``CodedError`` whose code is in PASSED_THROUGH: an
    outage such as StoreUnavailable, or a cursor the caller passed in that
    the store refused, a quota reached), the failure keeps that code (and ``retry_after``):
    the caller gets the retryable 503 or the 400 it earned, not the 500 of a
    broken handler. A user id the platform refused (InvalidUserId: a webhook passing on
    ``ctx.as_user(query_params["uid"])``) keeps its ``invalid_argument``: the
    sender's bad input is a 400.
    """

    code = "handler_failed"
    PASSED_THROUGH = frozenset({"unavailable", "invalid_cursor", "quota_exceeded"})

    def __init__(self, label, exc):
        super().__init__(f"{label} failed: {type(exc).__name__}: {exc}")
        self.exc = exc
        if isinstance(exc, CodedError) and exc.code in self.PASSED_THROUGH:
            self.code = exc.code
            self.retry_after = getattr(exc, "retry_after", None)
        elif isinstance(exc, InvalidUserId):
            self.code = exc.code


class SecretMissing(InvocationError):
    """The extension declares a ``required=True`` secret that is not set; nothing ran."""

    code = "secret_missing"

    def __init__(self, app_id, label, spec):
        if spec.scope == "app":
            who = "an operator sets it in the admin (Secrets vault)"
        elif spec.write_mode == "extension":
            who = "the extension sets it (write_mode='extension')"
        else:
            who = (
                f"set it with PUT /api/v1/me/secrets/{app_id}/{spec.name} or in "
                "the extension's secrets panel"
            )
        super().__init__(
            f"{label} needs the secret {spec.name!r}, which is required and not "
            f"set: {who}"
        )
        self.app_id = app_id
        self.secret = spec.name
