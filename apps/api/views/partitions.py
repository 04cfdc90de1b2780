"""Operators: an extension's partitions, one partition's documents, export and erase.

Browsing needs ``store.view_document``, erasing ``store.delete_document``;
every export and erase is recorded with the operator's name (OperatorAction),
and an erase also lands in the store's audit trail (actor ``operator``).
"""

import json

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from apps.accounts.ids import check_user_id
from apps.accounts.partition import Partition
from apps.store.models import AuditEntry
from apps.store.partitions import USERS_LIMIT_MAX, Partitions, check_partition
from apps.store.validation import LIMIT_MAX

from .. import data
from ..actions import Action, record
from ..schema import errors
from ..serializers import (
    DocumentPageSerializer,
    ErasedSerializer,
    ExportSerializer,
    PartitionSummarySerializer,
    UsersPageSerializer,
)
from . import pages
from .base import OperatorView
from .me import checked_app_id, export_response

VIEW = "store.view_document"
DELETE = "store.delete_document"
WHERE_MAX_CHARS = 16 * 1024


class UsersQuery(serializers.Serializer):
    search = pages.optional_text(128, help_text="Keep user ids containing this.")
    cursor = pages.optional_text(400)
    limit = serializers.IntegerField(
        required=False, default=50, min_value=1, max_value=USERS_LIMIT_MAX
    )
    tenant = pages.optional_text(64, help_text="Superusers only: another tenant.")


class DocumentsQuery(serializers.Serializer):
    collection = serializers.CharField(max_length=128)
    where = pages.optional_text(
        WHERE_MAX_CHARS,
        help_text='JSON object, as ctx.store accepts it: {"status": "open"}',
    )
    order_by = pages.optional_text(200, help_text="field or -field")
    limit = serializers.IntegerField(
        required=False, default=100, min_value=1, max_value=LIMIT_MAX
    )
    cursor = pages.optional_text(2000)
    tenant = pages.optional_text(64, help_text="Superusers only: another tenant.")

    def validate_where(self, value):
        if value == "":
            return None
        try:
            return json.loads(value)
        except ValueError as exc:
            raise serializers.ValidationError(
                f"where must be JSON text ({str(exc)[:100]})"
            ) from None


class PartitionList(OperatorView):
    required_permissions = (VIEW,)

    @extend_schema(
        summary="List an extension's partitions: users with document counts and "
        "last write",
        operation_id="operator_partitions_list",
        parameters=[UsersQuery],
        responses={200: UsersPageSerializer, **errors(400, 404)},
        tags=["operators"],
    )
    def get(self, request, app_id):
        options = pages.options(UsersQuery, request)
        page = Partitions().users(
            self.tenant(),
            checked_app_id(app_id),
            search=options.get("search", ""),
            cursor=options.get("cursor"),
            limit=options["limit"],
        )
        return pages.page_answer(
            [
                {
                    "user_id": u.user_id,
                    "documents": u.documents,
                    "last_write": u.last_write,
                }
                for u in page.data
            ],
            page.cursor,
            page.has_more,
        )


class PartitionDetail(OperatorView):
    """One partition: its summary (GET) and its erase (DELETE)."""

    required_permissions = {"GET": (VIEW,), "DELETE": (DELETE,)}

    @extend_schema(
        summary="Summarize one partition: collections with counts, cache entries",
        operation_id="operator_partition_summary",
        responses={200: PartitionSummarySerializer, **errors(400, 404)},
        tags=["operators"],
    )
    def get(self, request, app_id, user_id):
        return Response(data.summary(self._partition(app_id, user_id)))

    @extend_schema(
        summary="Erase one partition's documents and cache entries",
        operation_id="operator_partition_erase",
        description="Audited with the operator's name. " + data.DB_ROWS_NOTE + ".",
        responses={200: ErasedSerializer, **errors(400, 404)},
        tags=["operators"],
    )
    def delete(self, request, app_id, user_id):
        erased = erase_as_operator(request.user, self._partition(app_id, user_id))
        return Response(erased)

    def _partition(self, app_id, user_id):
        return operated_partition(self, app_id, user_id)


class PartitionDocuments(OperatorView):
    required_permissions = (VIEW,)

    @extend_schema(
        summary="Query one partition's documents with ctx.store's where and order_by",
        parameters=[DocumentsQuery],
        responses={200: DocumentPageSerializer, **errors(400, 404)},
        tags=["operators"],
    )
    def get(self, request, app_id, user_id):
        options = pages.options(DocumentsQuery, request)
        partition = operated_partition(self, app_id, user_id)
        page = Partitions().browse(
            partition,
            options["collection"],
            options.get("where"),
            options.get("order_by") or None,
            limit=options["limit"],
            cursor=options.get("cursor"),
        )
        return pages.page_answer(
            [
                {
                    "id": d.id,
                    "collection": d.collection,
                    "data": d.data,
                    "created_at": d.created_at,
                    "updated_at": d.updated_at,
                    "etag": d.etag,
                }
                for d in page.data
            ],
            page.cursor,
            page.has_more,
        )


class PartitionExport(OperatorView):
    required_permissions = (VIEW,)

    @extend_schema(
        summary="Export one partition's documents as JSON, streamed",
        responses={200: ExportSerializer, **errors(400, 404)},
        tags=["operators"],
    )
    def get(self, request, app_id, user_id):
        """Recorded with the operator's name; its document count is filled in once the
        export was read to its end."""
        partition = operated_partition(self, app_id, user_id)
        action = record(request.user, Action.EXPORT, partition)

        def done(count):
            type(action).objects.filter(pk=action.pk).update(documents=count)

        chunks = data.export_chunks(
            partition.tenant_id, user_id, [partition], on_done=done
        )
        return export_response(chunks, f"{app_id}-{user_id}-export.json")


def operated_partition(view, app_id, user_id):
    """Return the checked partition an operator route names; 400 or 404 if bad.

    The user id follows the user-id rule (apps.accounts.ids); a partition
    stored under an id from before the rule is the console's to open.
    """
    check_user_id(user_id, "user_id")
    return check_partition(Partition(view.tenant(), checked_app_id(app_id), user_id))


def erase_as_operator(operator, partition):
    """Erase ``partition`` (audited as the operator, by name) and record who did
    it; return what was erased, as ``data.erase`` does."""
    erased = data.erase(
        partition, AuditEntry.Actor.OPERATOR, by=operator.get_username()
    )
    record(
        operator,
        Action.ERASE,
        partition,
        documents=erased["documents_deleted"],
        cache_entries=erased["cache_entries_deleted"],
    )
    return erased
