"""What a worker's ctx raises when the platform refuses a call: the errors a handler
gets in-process, by name, bases, attributes and message.

The kernel's classes (apps.egress.errors, apps.quotas.errors, apps.store.errors,
apps.notifications.core) cannot be imported in a worker; each class here has
the same name and the same imperal-sdk / builtin bases, so a handler's
``except`` clauses and its error messages are the same in both runtimes. The
message is the platform's own, carried by the gateway's error shape
``{"error": {"code", "message", "detail"}}``; :func:`error_of` builds the
error from it.
"""

import httpx
from imperal_sdk.errors import ImperalError, QuotaExceededError
from imperal_sdk.store.exceptions import StoreError, StoreUnavailable


class EgressError(ImperalError, httpx.RequestError):
    """ctx.http: the egress guard stopped an outbound call; ``rule`` and ``host`` say
    why and where."""

    code = "egress_error"

    def __init__(self, message, *, rule=None, host=None):
        self.rule = rule
        self.host = host
        super().__init__(message, self.code)


class EgressRefused(EgressError, PermissionError):
    """ctx.http: the egress policy does not let this extension reach the destination."""

    code = "egress_refused"


class EgressRateLimited(EgressError):
    """ctx.http: more outbound calls than IMPERAL_EGRESS_RATE allows; ``retry_after``
    is the seconds until the window ends."""

    code = "rate_limited"

    def __init__(self, message, *, rule="rate", host=None, retry_after=None):
        self.retry_after = retry_after
        super().__init__(message, rule=rule, host=host)


class ResponseTooLarge(EgressError):
    """ctx.http: the response body passed IMPERAL_EGRESS_MAX_RESPONSE_BYTES."""

    code = "response_too_large"


class EgressBusy(EgressError):
    """ctx.http: every connection slot of the extension stayed taken."""

    code = "egress_busy"


class QuotaExceeded(QuotaExceededError):
    """A quota of the extension was reached; nothing was done (imperal-sdk's
    QuotaExceededError, ``resource`` naming the kind; ``status`` 429 for a rate,
    507 for what is held)."""

    def __init__(
        self,
        message,
        *,
        kind,
        limit,
        usage=None,
        requested=1,
        window="",
        app_id="",
        status=429,
    ):
        super().__init__(kind, limit)
        self.status = status
        self.kind = kind
        self.usage = usage
        self.requested = requested
        self.window = window
        self.app_id = app_id
        self.message = message
        self.args = (message,)

    @property
    def quota(self):
        """Return the error's detail: kind, limit, usage, requested, window."""
        return {
            "kind": self.kind,
            "limit": self.limit,
            "usage": self.usage,
            "requested": self.requested,
            "window": self.window,
        }


class DocumentExists(StoreError):
    """ctx.store: ``create`` with an id the partition already holds."""

    def __init__(self, message, *, collection=None, doc_id=None):
        super().__init__(message)
        self.collection = collection
        self.doc_id = doc_id


class DocumentNotFound(StoreError, LookupError):
    """ctx.store: a write that needs the document found none."""

    def __init__(self, message, *, collection=None, doc_id=None):
        super().__init__(message)
        self.collection = collection
        self.doc_id = doc_id


class GatewayRefused(ImperalError):
    """The platform refused the call for a reason no class above names; ``code`` is
    the error table's (apps.common.errors) and ``status`` the HTTP status."""

    def __init__(self, message, *, code, status):
        self.status = status
        super().__init__(message, code)


class Forbidden(GatewayRefused, PermissionError):
    """The call named another user, tenant or extension than its call token allows
    (recorded by the platform as a security event)."""


class PayloadTooLarge(GatewayRefused, ValueError):
    """What the call sent is over the platform's limit; nothing was stored."""


STORE_ERRORS = {"not_found": DocumentNotFound, "conflict": DocumentExists}
BY_CODE = {"forbidden": Forbidden, "payload_too_large": PayloadTooLarge}
# A bad argument: in-process the core's own ValueError (or TypeError) naming the rule.
INVALID = ("invalid_argument", "invalid_params", "invalid_cursor")
EGRESS_ERRORS = {
    cls.code: cls
    for cls in (EgressRefused, EgressRateLimited, ResponseTooLarge, EgressBusy)
}


def error_body_of(response):
    """Return the ``{"code", "message", "detail"}`` of a gateway error answer ({} if none)."""
    try:
        payload = response.json()
    except ValueError:
        return {}
    error = payload.get("error") if isinstance(payload, dict) else None
    return error if isinstance(error, dict) else {}


def error_of(response, surface, table=None):
    """Return the exception a handler gets for the gateway's error ``response``.

    ``table`` maps the surface's own codes to classes built from (message,
    **detail they take); quota, the shared codes and the rest follow.
    """
    error = error_body_of(response)
    code = error.get("code") or "internal"
    detail = error.get("detail") if isinstance(error.get("detail"), dict) else {}
    message = error.get("message") or (
        f"{surface}: the platform answered {response.status_code}"
    )
    if code == "quota_exceeded":
        return QuotaExceeded(
            message,
            kind=detail.get("kind", ""),
            limit=detail.get("limit"),
            usage=detail.get("usage"),
            requested=detail.get("requested", 1),
            window=detail.get("window", ""),
            app_id=detail.get("app_id", ""),
            status=response.status_code,
        )
    if code == "unavailable" and surface == "ctx.store":
        return StoreUnavailable(retry_after=detail.get("retry_after", 5))
    if table and code in table:
        return table[code](message, **_taken(table[code], detail))
    if code in INVALID:
        return ValueError(message)
    cls = BY_CODE.get(code, GatewayRefused)
    return cls(message, code=code, status=response.status_code)


_DETAIL_FIELDS = {
    DocumentExists: ("collection", "doc_id"),
    DocumentNotFound: ("collection", "doc_id"),
    **{cls: ("rule", "host") for cls in EGRESS_ERRORS.values()},
}


def _taken(cls, detail):
    fields = _DETAIL_FIELDS.get(cls, ())
    taken = {name: detail.get(name) for name in fields}
    if cls is EgressRateLimited:
        taken["retry_after"] = detail.get("retry_after")
    return taken
