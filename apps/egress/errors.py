"""What ctx.http raises when the egress guard stops a call.

Every error is an :class:`EgressError`: an imperal-sdk ``ImperalError`` (what
code written for the SDK catches as "an SDK error") and an
``httpx.RequestError`` (what code written around imperal-sdk's httpx-based
``HTTPClient`` catches as "the request did not go through"). ``code`` is a
fixed machine-readable name; ``rule`` names the rule that stopped the call;
``host`` the host it was stopped at. Messages name both, never a path, query
or header.
"""

import httpx
from imperal_sdk.errors import ImperalError


class EgressError(ImperalError, httpx.RequestError):
    """The egress guard stopped an outbound call; ``rule`` and ``host`` say why and where."""

    code = "egress_error"
    outcome = "failed"

    def __init__(self, message, *, rule, host):
        self.rule = rule
        self.host = host
        super().__init__(message, self.code)


class EgressRefused(EgressError, PermissionError):
    """The operator's egress policy does not let this extension reach this destination.

    Also a ``PermissionError``. ``rule`` is "scheme", "not-allowed" or an
    address rule of apps.egress.addresses ("loopback", "private",
    "link-local", …). Recorded as a SecurityEvent.
    """

    code = "egress_refused"
    outcome = "refused"


class EgressRateLimited(EgressError):
    """The extension made more outbound calls than IMPERAL_EGRESS_RATE allows.

    ``retry_after`` is the seconds until the current window ends.
    """

    code = "rate_limited"
    outcome = "rate_limited"

    def __init__(self, message, *, host, retry_after):
        self.retry_after = retry_after
        super().__init__(message, rule="rate", host=host)


class ResponseTooLarge(EgressError):
    """The response body passed IMPERAL_EGRESS_MAX_RESPONSE_BYTES; it was cut off."""

    code = "response_too_large"
    outcome = "too_large"


class EgressBusy(EgressError):
    """Every connection slot of the extension stayed taken for the call's whole timeout."""

    code = "egress_busy"
    outcome = "busy"
