"""The wire forms of imperal-sdk's gateway protocol: bodies, query numbers, etags, documents.

Protocol only: what a field means is the cores' business.
"""

from rest_framework.response import Response

LIST_USERS_CURSOR_PREFIX = "u:"
# imperal-sdk's StoreClient sends cursor=0 for the first page of list_users.
LIST_USERS_START = ("", "0")
IF_MATCH_MAX_CHARS = 200
USERS_RULE = "users must be a list of 1-{max} user ids"


def body_of(request):
    """Return the request's JSON body as a dict ({} when empty); ValueError otherwise."""
    data = request.data
    if not isinstance(data, dict):
        raise ValueError(
            f"gateway: the request body must be a JSON object, got {type(data).__name__}"
        )
    return data


def query_int(params, name, default):
    """Return query parameter ``name`` as an int (``default`` when absent).

    Raises ValueError naming the parameter for anything but an optionally
    signed run of ASCII digits; the range is the core's rule.
    """
    text = params.get(name)
    if text is None or text == "":
        return default
    digits = text[1:] if text[:1] in "+-" else text
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 19:
        raise ValueError(f"gateway: {name} must be an integer, got {text!r:.40}")
    return int(text)


def user_list(value, most):
    """Return ``value``, the user ids a fan-out read names.

    Raises ValueError naming the rule unless it is a list of 1 to ``most``
    items; each id is the identity check's business.
    """
    if not isinstance(value, list) or not 1 <= len(value) <= most:
        shown = len(value) if isinstance(value, list) else type(value).__name__
        raise ValueError(f"gateway: {USERS_RULE.format(max=most)}, got {shown}")
    return value


def list_users_after(cursor):
    """Return the user id a list_users cursor continues after ("" = from the start).

    Raises ValueError for a cursor :func:`list_users_cursor` did not make.
    """
    if cursor is None or cursor in LIST_USERS_START:
        return ""
    if not cursor.startswith(LIST_USERS_CURSOR_PREFIX):
        raise ValueError(
            f"gateway: list_users cursor must be '0' (first page) or a next_cursor "
            f"this route returned, got {cursor!r:.60}"
        )
    return cursor[len(LIST_USERS_CURSOR_PREFIX) :]


def list_users_cursor(user_ids, limit):
    """Return the next_cursor after a page of ``user_ids``, None after the last page."""
    if len(user_ids) < limit:
        return None
    return LIST_USERS_CURSOR_PREFIX + user_ids[-1]


def if_match(request, from_body):
    """Return the etag a write is conditional on: If-Match header or body ``if_match``.

    ``If-Match: *`` and an absent header add no condition. Raises ValueError
    for a weak or multiple etag, or a header that contradicts the body; a
    non-string body value is left to the core's rule.
    """
    header = request.META.get("HTTP_IF_MATCH", "").strip()
    if not header or header == "*":
        return from_body
    if header.startswith("W/") or "," in header or len(header) > IF_MATCH_MAX_CHARS:
        raise ValueError(
            f"gateway: If-Match takes one strong etag as the document's ETag header "
            f"gave it, got {header!r:.80}"
        )
    etag = (
        header[1:-1] if len(header) >= 2 and header[0] == header[-1] == '"' else header
    )
    if from_body not in ("", None) and from_body != etag:
        raise ValueError(
            f"gateway: the If-Match header {etag!r:.60} and the body's if_match "
            f"{from_body!r:.60} differ; send one"
        )
    return etag


def document_json(document):
    """Return a Document as the JSON object imperal-sdk's StoreClient reads."""
    return {
        "id": document.id,
        "collection": document.collection,
        "data": document.data,
        "created_at": document.created_at,
        "updated_at": document.updated_at,
        "etag": document.etag,
        "user_id": document.user_id,
    }


def page_json(page):
    """Return a Page as the object imperal-sdk's StoreClient.query reads."""
    return {
        "data": [document_json(document) for document in page.data],
        "cursor": page.cursor,
        "has_more": page.has_more,
        "total": page.total,
    }


def document_response(document, status=200):
    """Return the Response for one document, with its etag as the ETag header."""
    return Response(
        document_json(document),
        status=status,
        headers={"ETag": f'"{document.etag}"'},
    )
