"""The signed-in user's notifications: a page at a time, mark one or all read.

Another user's notification id answers 404, exactly as a missing one: the
core never tells whether it exists.
"""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from apps.notifications.core import (
    LIST_LIMIT_MAX,
    list_notifications,
    mark_all_read,
    mark_read,
)

from ..schema import errors
from ..serializers import (
    MarkedReadSerializer,
    NotificationPageSerializer,
    NotificationSerializer,
)
from . import pages
from .base import ApiView


class NotificationQuery(serializers.Serializer):
    unread = serializers.BooleanField(
        required=False, default=False, help_text="Only notifications not read yet."
    )
    cursor = pages.optional_text(400, help_text="A page's cursor, for the next one.")
    limit = serializers.IntegerField(
        required=False, default=50, min_value=1, max_value=LIST_LIMIT_MAX
    )


class NotificationList(ApiView):
    @extend_schema(
        summary="List my notifications, newest first",
        parameters=[NotificationQuery],
        responses={200: NotificationPageSerializer, **errors(400)},
        tags=["notifications"],
    )
    def get(self, request):
        options = pages.options(NotificationQuery, request)
        page = list_notifications(
            request.user.tenant_id,
            request.user.imperal_id,
            unread_only=options["unread"],
            after=options.get("cursor") or None,
            limit=options["limit"],
        )
        return pages.page_answer(
            NotificationSerializer(page.data, many=True).data,
            page.cursor,
            page.has_more,
        )


class NotificationRead(ApiView):
    @extend_schema(
        summary="Mark one of my notifications read",
        request=None,
        responses={200: MarkedReadSerializer, **errors(400, 404)},
        tags=["notifications"],
    )
    def post(self, request, notification_id):
        was_unread = mark_read(
            request.user.tenant_id, request.user.imperal_id, notification_id
        )
        return Response({"marked": int(was_unread)})


class NotificationsReadAll(ApiView):
    @extend_schema(
        summary="Mark all my notifications read",
        request=None,
        responses={200: MarkedReadSerializer, **errors()},
        tags=["notifications"],
    )
    def post(self, request):
        marked = mark_all_read(request.user.tenant_id, request.user.imperal_id)
        return Response({"marked": marked})
