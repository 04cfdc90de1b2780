"""What the vault raises: imperal-sdk's secret errors, each with a code of the error table.

Bad arguments (a name or value of the wrong type) raise ``TypeError``/``ValueError``.
No message ever holds a value: only names, sizes and rules.
"""

from imperal_sdk.secrets.exceptions import (
    SecretNotDeclaredError,
    SecretValueTooLarge,
    SecretVaultUnavailable,
    SecretWriteForbidden,
)

from apps.common.errors import CodedError

__all__ = [
    "SecretNotDeclared",
    "SecretTooLarge",
    "SecretUnavailable",
    "SecretWriteRefused",
]


class SecretNotDeclared(CodedError, SecretNotDeclaredError, LookupError):
    """The extension declares no secret of that name (``@ext.secret``)."""

    code = "not_found"

    def __init__(self, app_id, name, declared):
        listing = ", ".join(sorted(declared)) or "none"
        super().__init__(
            f"secrets: extension {app_id!r} declares no secret {name!r:.80} "
            f"(it declares: {listing}); declare it with @ext.secret"
        )
        self.app_id = app_id
        self.secret = name


class SecretWriteRefused(CodedError, SecretWriteForbidden):
    """The writer may not write this secret: its ``scope`` and ``write_mode`` say who may."""

    code = "forbidden"

    def __init__(self, app_id, name, rule):
        super().__init__(f"secrets: secret {name!r} of extension {app_id!r}: {rule}")
        self.app_id = app_id
        self.secret = name


class SecretTooLarge(CodedError, SecretValueTooLarge, ValueError):
    """The value's UTF-8 encoding is longer than the secret's ``max_bytes``."""

    code = "payload_too_large"

    def __init__(self, app_id, name, size, limit):
        super().__init__(
            f"secrets: the value of {name!r} is {size} bytes of UTF-8; secret "
            f"{name!r} of extension {app_id!r} holds at most {limit} (max_bytes)"
        )
        self.app_id = app_id
        self.secret = name


class SecretUnavailable(CodedError, SecretVaultUnavailable):
    """The vault cannot answer: the database failed, or a value cannot be opened
    (its key is no longer configured, or it fails its integrity check)."""

    code = "unavailable"
    retry_after = 5

    def __init__(self, message, app_id="", name=""):
        super().__init__(f"secrets: {message}")
        self.app_id = app_id
        self.secret = name
