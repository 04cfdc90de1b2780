"""The one refusal every surface raises when a quota is reached."""

from imperal_sdk.errors import QuotaExceededError

from apps.common.errors import CodedError

from .kinds import kind_of


class QuotaExceeded(CodedError, QuotaExceededError):
    """A write or call would take ``kind`` past its ``limit``; nothing was done.

    An imperal-sdk ``QuotaExceededError`` (``resource`` is the kind), so code
    written for the SDK catches it. ``usage`` is what the partition holds (or
    used in the current window) and ``requested`` what the refused operation
    asked for. Every face answers code ``quota_exceeded``: HTTP 507 for a held
    kind (documents, bytes, entries), 429 for a rate (calls, tokens).
    """

    code = "quota_exceeded"

    def __init__(self, kind, limit, usage, requested=1, *, app_id="", window=""):
        self.kind = kind
        self.usage = usage
        self.requested = requested
        self.app_id = app_id
        self.window = window or kind_of(kind).window
        super().__init__(kind, limit)
        unit = kind_of(kind).unit
        per = f" per {self.window}" if self.window else ""
        self.message = (
            f"quota {kind} of extension {app_id!r} reached: {usage} of {limit} "
            f"{unit}{per} used, {requested} more asked for (rule quota_exceeded; "
            "the operator sets it in the admin or IMPERAL_QUOTAS)"
        )
        self.args = (self.message,)

    @property
    def status(self):
        return kind_of(self.kind).status

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
