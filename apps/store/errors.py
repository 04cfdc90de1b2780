"""What the store raises, beside its contract; every face translates these, never a driver error.

Bad arguments raise ``ValueError``/``TypeError`` (see :mod:`apps.store.validation`).
"""

from imperal_sdk.store.exceptions import StoreConflict as _SdkStoreConflict
from imperal_sdk.store.exceptions import StoreError
from imperal_sdk.store.exceptions import StoreUnavailable as _SdkStoreUnavailable

from apps.common.errors import CodedError

__all__ = [
    "DocumentExists",
    "DocumentNotFound",
    "InvalidCursor",
    "StoreConflict",
    "StoreError",
    "StoreFailure",
    "StoreUnavailable",
]


class StoreConflict(CodedError, _SdkStoreConflict):
    """imperal-sdk's StoreConflict: the etag ``if_match`` named is not current."""

    code = "conflict"


class DocumentNotFound(CodedError, StoreError, LookupError):
    """``update`` (or a write that needs the document) found no such document."""

    code = "not_found"

    def __init__(self, collection, doc_id):
        super().__init__(f"store: no document {doc_id!r} in collection {collection!r}")
        self.collection = collection
        self.doc_id = doc_id


class DocumentExists(CodedError, StoreError):
    """``create`` with an id that the partition already holds; nothing was written."""

    code = "conflict"

    def __init__(self, collection, doc_id):
        super().__init__(
            f"store: document {doc_id!r} already exists in collection {collection!r}"
        )
        self.collection = collection
        self.doc_id = doc_id


class InvalidCursor(CodedError, ValueError):
    """A cursor this deployment did not make for this query (altered, truncated,
    from another query or deployment). A caller's mistake: it passed the cursor
    through, so even from inside a handler it answers 400, not 500."""

    code = "invalid_cursor"


class StoreUnavailable(CodedError, _SdkStoreUnavailable):
    """The database failed or could not be reached; the operation may not have run."""

    code = "unavailable"

    def __init__(self, reason, retry_after=5):
        super().__init__(retry_after=retry_after)
        self.args = (f"store unavailable: {reason}",)
        self.reason = reason


class StoreFailure(CodedError, StoreError):
    """The database refused a statement for a reason other than availability."""

    code = "internal"
