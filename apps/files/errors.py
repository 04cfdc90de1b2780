"""What ctx.storage raises besides a rule's ValueError: each carries a code of the
error table (apps.common.errors), so every face answers it the same way."""

from apps.common.errors import CodedError


class FileTooLarge(CodedError, ValueError):
    """A file is over IMPERAL_STORAGE_MAX_FILE_BYTES; nothing was stored."""

    code = "payload_too_large"

    def __init__(self, message, *, size, limit):
        super().__init__(message)
        self.size = size
        self.limit = limit


class FileMissing(CodedError, FileNotFoundError):
    """No file of that path in this partition (another partition's never counts)."""

    code = "not_found"

    def __init__(self, path):
        super().__init__(f"ctx.storage: no file {path[:120]!r}")
        self.path = path


class StorageUnavailable(CodedError, OSError):
    """The storage backend failed (a disk, a bucket); what was asked did not happen."""

    code = "unavailable"
