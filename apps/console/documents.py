"""One collection of a partition: its documents filtered, sorted and paged both ways.

Reads go through the store core: ``Partitions.browse_both_ways`` (the same
rules and errors as ``ctx.store.query``, keyset cursors both ways). Counts come
from the trigger-kept statistics; the matches of a filter are counted only in
a collection small enough to count cheaply. The filter row builds the same
``where`` as the JSON box (:mod:`apps.console.filters`).
"""

import json
from urllib.parse import urlencode

from django.urls import reverse

from apps.store.connections import DjangoConnection
from apps.store.core import DocumentStore
from apps.store.partitions import Partitions
from apps.store.stats import Statistics

from . import filters
from .site import (
    ADD,
    VIEW,
    NotFound,
    can,
    console_view,
    operated_partition,
    partition_page,
    render_listing,
    users_page,
)
from .site import seconds as at_seconds

PAGE_SIZES = (25, 50, 100)
PREVIEW_CHARS = 120
ORDER_MAX_CHARS = 200
FIELD_MAX_CHARS = 1100  # a dotted path of the store's deepest, longest keys
DEFAULT_ORDER = "-updated_at"
# Column, header, the order a first click asks for (dates: newest first).
SORTABLE = (
    ("id", "Document", "id"),
    ("created_at", "Created", "-created_at"),
    ("updated_at", "Updated", "-updated_at"),
)
# A filter's matches are counted only in collections of at most this many
# documents (the count reads every match).
COUNT_MATCHES_MAX = 10_000


@console_view(VIEW)
def documents(request, app_id, user_id, collection):
    """A page of one collection, filtered and ordered as ``ctx.store.query``,
    newest write first unless asked otherwise."""
    part = operated_partition(request, app_id, user_id)
    held = held_collection(part, collection)
    form = _form(request.GET)
    page, matches, error = _browse(request, part, collection, form, held)
    query = _query(form)
    context = {
        "app_id": app_id,
        "user_id": user_id,
        "collection": collection,
        "form": form,
        "operators": filters.OPERATORS,
        "page_sizes": PAGE_SIZES,
        "rows": [_row(d) for d in (page.data if page else [])],
        "error": error,
        "held": held,
        "matches": matches,
        "columns": _columns(form["order_by"], query),
        "next_url": _page_url(query, "cursor", page.after if page else None),
        "previous_url": _page_url(query, "before", page.before if page else None),
        "can_add": can(request, ADD),
    }
    title = f"{collection} of {user_id}"
    return render_listing(request, "console/documents/list.html", context, title=title)


def _browse(request, part, collection, form, held):
    """Return (BrowsePage, matches, None), or (None, None, the rule broken).

    A filter row that worked moves into the form's ``where`` (the where it built).
    """
    try:
        where = filters.combined_where(
            form["where"], form["field"], form["op"], form["value"]
        )
        page = Partitions().browse_both_ways(
            part,
            collection,
            where,
            form["order_by"],
            limit=form["limit"],
            after=request.GET.get("cursor") or None,
            before=request.GET.get("before") or None,
        )
        matches = _matches(part, collection, where, held)
    except (ValueError, TypeError) as exc:
        return None, None, str(exc)
    if form["field"]:
        form.update(where=_where_text(where), field="", value="", op="")
    return page, matches, None


def held_collection(part, collection):
    """Return how many documents ``collection`` of ``part`` holds; raise NotFound
    (with the way back) when it holds none."""
    reader = Statistics()
    held = reader.collection(part, collection)
    if held is None:
        back = partition_page(part) if reader.partition(part) else None
        raise NotFound(
            f"{part.user_id} holds no documents in collection {collection!r} of "
            f"{part.app_id}.",
            back or users_page(part.app_id),
        )
    return held


# --- helpers ---------------------------------------------------------------
def _form(params):
    """Return the list's inputs, each cut to its bound (the store checks them)."""
    return {
        "where": params.get("where", "").strip(),
        "field": params.get("field", "").strip()[:FIELD_MAX_CHARS],
        "op": params.get("op", "").strip()[:20],
        "value": params.get("value", "")[: filters.VALUE_MAX_CHARS + 1],
        "order_by": params.get("order_by", "").strip()[:ORDER_MAX_CHARS]
        or DEFAULT_ORDER,
        "limit": _page_size(params.get("limit")),
    }


def _query(form):
    """Return the query string parameters that keep this list as it is."""
    kept = {
        "where": form["where"],
        "order_by": form["order_by"],
        "limit": form["limit"],
    }
    return {key: value for key, value in kept.items() if value}


def _page_url(query, direction, cursor):
    return f"?{urlencode({**query, direction: cursor})}" if cursor else None


def _columns(order, query):
    """Return each sortable column: its header, the link sorting by it, its arrow."""
    columns = []
    for field, label, first in SORTABLE:
        arrow, wanted = "", first
        if order == field:
            arrow, wanted = "▲", f"-{field}"
        elif order == f"-{field}":
            arrow, wanted = "▼", field
        url = f"?{urlencode({**query, 'order_by': wanted})}"
        columns.append({"label": label, "url": url, "arrow": arrow})
    return columns


def _matches(part, collection, where, held):
    """Return how many documents match ``where``, when counting is cheap; else None."""
    if where is None:
        return held
    if held > COUNT_MATCHES_MAX:
        return None
    return DocumentStore(DjangoConnection()).count(part, collection, where)


def _row(document):
    return {
        "id": document.id,
        "url": reverse(
            "console:document",
            args=[
                document.extension_id,
                document.user_id,
                document.collection,
                document.id,
            ],
        ),
        "created_at": at_seconds(document.created_at),
        "updated_at": at_seconds(document.updated_at),
        "preview": _preview(document.data),
    }


def _where_text(where):
    return "" if where is None else json.dumps(where, ensure_ascii=False)


def _page_size(text):
    try:
        size = int(text)
    except (TypeError, ValueError):
        return PAGE_SIZES[0]
    return size if size in PAGE_SIZES else PAGE_SIZES[0]


def _preview(data):
    text = json.dumps(data, ensure_ascii=False)
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"
