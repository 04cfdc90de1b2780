"""Keyset pages of rows, newest first, behind an opaque cursor; and their query."""

import base64
import binascii
import datetime
import json

from django.db.models import Q
from rest_framework import serializers
from rest_framework.response import Response

PAGE_MAX = 200
CURSOR_MAX_CHARS = 200
ROW_ID_MAX = 2**63 - 1  # a BigAutoField's range


def optional_text(max_length, **kwargs):
    """Return an optional query parameter's field; empty means the same as absent."""
    return serializers.CharField(
        required=False, allow_blank=True, max_length=max_length, **kwargs
    )


class PageQuery(serializers.Serializer):
    cursor = optional_text(CURSOR_MAX_CHARS)
    limit = serializers.IntegerField(
        required=False, default=50, min_value=1, max_value=PAGE_MAX
    )


def options(serializer_class, request):
    """Return the validated query parameters of ``request``; 400 naming a bad one."""
    query = serializer_class(data=request.query_params)
    query.is_valid(raise_exception=True)
    return query.validated_data


def page_answer(data, cursor, has_more=None):
    """Return the answer of one page, ``{data, cursor, has_more}``; ``has_more``
    defaults to whether there is a next page's cursor."""
    if has_more is None:
        has_more = cursor is not None
    return Response({"data": data, "cursor": cursor, "has_more": has_more})


class KeysetList:
    """A GET route answering one keyset page of rows, newest ``column`` first.

    Mixed into a view that sets ``query_class`` (a :class:`PageQuery`) and
    ``column``, says which rows it lists and how a page of them is answered.
    """

    query_class = PageQuery
    column = "created_at"

    def rows(self, options, **url_kwargs):
        """Return the queryset to page through, filtered by ``options``."""
        raise NotImplementedError("a KeysetList view must say which rows it lists")

    def serialize(self, page):
        """Return the page's rows as JSON values, in order."""
        raise NotImplementedError(
            "a KeysetList view must say how its rows are answered"
        )

    def get(self, request, **url_kwargs):
        query = options(self.query_class, request)
        rows = self.rows(query, **url_kwargs)
        page, cursor = keyset_page(rows, self.column, query)
        return page_answer(self.serialize(page), cursor)


def keyset_page(rows, column, options):
    """Return (the page's rows, the next page's cursor or None), newest ``column``
    first, ties by id. Raises ValueError for a cursor no page returned."""
    if options.get("cursor"):
        moment, last_id = decode(options["cursor"])
        rows = rows.filter(
            Q(**{f"{column}__lt": moment}) | Q(**{column: moment, "id__lt": last_id})
        )
    limit = options["limit"]
    found = list(rows.order_by(f"-{column}", "-id")[: limit + 1])
    page = found[:limit]
    if len(found) <= limit:
        return page, None
    last = page[-1]
    return page, encode(getattr(last, column), last.pk)


def encode(moment, pk):
    """Return the cursor continuing after the row (``moment``, ``pk``)."""
    text = json.dumps([moment.isoformat(), pk])
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode(cursor):
    """Return (moment, id) of a cursor; ValueError if a page did not make it."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        moment, pk = json.loads(text)
        moment = datetime.datetime.fromisoformat(moment)
    except (binascii.Error, ValueError, TypeError, RecursionError):
        moment, pk = None, None
    if moment is None or moment.tzinfo is None or not _is_row_id(pk):
        raise ValueError(
            f"cursor {cursor[:40]!r} is not one a page of this list returned"
        )
    return moment, pk


def _is_row_id(value):
    return type(value) is int and 0 < value <= ROW_ID_MAX
