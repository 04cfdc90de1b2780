"""The Page a worker's ``ctx.store.query`` returns, made of the gateway's answer."""

from imperal_sdk.types.models import Document
from imperal_sdk.types.pagination import Page


def query_page(collection, raw, *, etags):
    """Return the Page of documents in ``raw``, the gateway's answer to a query.

    ``etags`` says whether the documents keep their ``etag``: a first page does
    not, read ahead or not, as imperal-sdk's own ``query`` parses it; a page
    asked for with a cursor (the platform's addition, the SDK has none) does.
    Raises KeyError for an item without an ``id``.
    """
    items = [
        Document(
            id=item["id"],
            collection=collection,
            data=item.get("data", {}),
            created_at=item.get("created_at") or "",
            updated_at=item.get("updated_at") or "",
            etag=(item.get("etag") or "") if etags else "",
        )
        for item in raw.get("data", [])
    ]
    return Page(
        data=items,
        cursor=raw.get("cursor"),
        has_more=raw.get("has_more", False),
        total=raw.get("total"),
    )
