"""``/v1/internal/store…``: imperal-sdk's StoreClient routes over the store core.

Paths, bodies and answers are those of imperal-sdk 6.3.7's ``store/client.py``.
Writes are audited with actor ``gateway``. A schedule's isolated fire reads
``list_users``/``all`` through its call token's fan-out scope, as ctx.store
does in-process: only its shard's users, and (re-run) none already delivered.
"""

from django.views.decorators.csrf import csrf_exempt
from rest_framework.response import Response

from apps.extensions.context import reachable_user_ids
from apps.scheduler.delivery import delivered_among
from apps.store.connections import DjangoConnection
from apps.store.core import DEFAULT_LIMIT, FAN_OUT_DEFAULT, DocumentStore
from apps.store.errors import DocumentNotFound
from apps.store.models import AuditEntry

from .. import wire
from ..identity import (
    acting_partition,
    fan_out_partitions,
    fan_out_shard,
    require_system_identity,
)
from .base import GatewayView

ACTOR = AuditEntry.Actor.GATEWAY


def store():
    """Return the store core on this thread's Django connection."""
    return DocumentStore(DjangoConnection())


class CreateDocument(GatewayView):
    """``POST /v1/internal/store``: {collection, data, user_id, extension_id, tenant_id}."""

    def post(self, request):
        body = wire.body_of(request)
        partition = acting_partition(request, body)
        document = store().create(
            partition, ACTOR, body.get("collection"), body.get("data")
        )
        return wire.document_response(document, status=201)


class DocumentItem(GatewayView):
    """``GET|PATCH|DELETE /v1/internal/store/{collection}/{doc_id}``."""

    def get(self, request, collection, doc_id):
        partition = acting_partition(request, request.query_params)
        document = store().get(partition, collection, doc_id)
        if document is None:
            raise DocumentNotFound(collection, doc_id)
        return wire.document_response(document)

    def patch(self, request, collection, doc_id):
        body = wire.body_of(request)
        partition = acting_partition(request, body)
        condition = wire.if_match(request, body.get("if_match", ""))
        document = store().update(
            partition, ACTOR, collection, doc_id, body.get("data"), condition
        )
        return wire.document_response(document)

    def delete(self, request, collection, doc_id):
        params = request.query_params
        partition = acting_partition(request, params)
        condition = wire.if_match(request, params.get("if_match", ""))
        if not store().delete(partition, ACTOR, collection, doc_id, condition):
            raise DocumentNotFound(collection, doc_id)
        return Response({"deleted": True})


class QueryDocuments(GatewayView):
    """``POST …/{collection}/query`` → ``{data, cursor, has_more, total}``."""

    def post(self, request, collection):
        body = wire.body_of(request)
        partition = acting_partition(request, body)
        page = store().query(
            partition,
            collection,
            where=body.get("where"),
            order_by=body.get("order_by"),
            limit=body.get("limit", DEFAULT_LIMIT),
            cursor=body.get("cursor"),
        )
        return Response(wire.page_json(page))


class QueryUsers(GatewayView):
    """``POST …/{collection}/query_users`` {users, where, order_by, limit} →
    ``{pages: {user_id: {data, cursor, has_more, total}}}``: each user's first
    page of one query, as ``query`` answers it, for the kernel's fan-out only
    (a system or webhook invocation's call token: an isolated worker reading
    ahead in a ``list_users`` loop)."""

    users_max = 100

    def post(self, request, collection):
        body = wire.body_of(request)
        route = f"POST /v1/internal/store/{collection}/query_users"
        partitions = fan_out_partitions(request, body, route, self.users_max)
        if body.get("cursor") not in (None, ""):
            raise ValueError(
                f"gateway: {route} reads first pages only (no cursor); page on "
                "with …/query"
            )
        core, limit = store(), body.get("limit", DEFAULT_LIMIT)
        where, order_by = body.get("where"), body.get("order_by")
        pages = {}
        for partition in partitions:
            page = core.query(partition, collection, where, order_by, limit)
            pages[partition.user_id] = wire.page_json(page)
        return Response({"pages": pages})


class CountDocuments(GatewayView):
    """``POST …/{collection}/count`` → ``{count}``."""

    def post(self, request, collection):
        body = wire.body_of(request)
        partition = acting_partition(request, body)
        return Response(
            {"count": store().count(partition, collection, body.get("where"))}
        )


def fan_out_request(request, collection, operation, route):
    """Return (partition, limit, shard) of a system-only fan-out read; refuse
    anyone else, and a request naming another shard than its credential's.

    ``operation`` is the store's name for the read, ``route`` its last path segment.
    """
    params = request.query_params
    partition = acting_partition(request, params)
    require_system_identity(
        partition, operation, f"GET /v1/internal/store/{collection}/{route}"
    )
    shard = fan_out_shard(request)
    return partition, wire.query_int(params, "limit", FAN_OUT_DEFAULT), shard


class ListUsers(GatewayView):
    """``GET …/{collection}/list_users?cursor=0&limit=N`` (system identity only)."""

    def get(self, request, collection):
        partition, limit, shard = fan_out_request(
            request, collection, "list_users", "list_users"
        )
        after = wire.list_users_after(request.query_params.get("cursor"))
        user_ids = store().list_users(partition, collection, after, limit, shard)
        return Response(
            {
                "user_ids": pending(request.user.fan_out, user_ids, partition.app_id),
                "next_cursor": wire.list_users_cursor(user_ids, limit),
                "truncated": False,
            }
        )


def pending(scope, user_ids, app_id):
    """Return the ids of a ``list_users`` page to yield: the reachable ones, less
    those a re-run fire (``scope``, a FanOutScope) already delivered to."""
    reachable = reachable_user_ids(user_ids, app_id)
    if scope is None or not scope.resumed:
        return reachable
    done = delivered_among(scope.run_id, reachable)
    return [user_id for user_id in reachable if user_id not in done]


class QueryAll(GatewayView):
    """``GET …/{collection}/all?limit=N`` → documents of every user (system only)."""

    def get(self, request, collection):
        partition, limit, shard = fan_out_request(
            request, collection, "query_all", "all"
        )
        documents = store().query_all(partition, collection, limit, shard)
        return Response([wire.document_json(d) for d in documents])


_document_item = DocumentItem.as_view()
# The SDK puts collection actions where a document id would be: the method and
# the last path segment together say which route a request is.
_COLLECTION_ACTIONS = {
    ("POST", "query"): QueryDocuments.as_view(),
    ("POST", "count"): CountDocuments.as_view(),
    ("POST", "query_users"): QueryUsers.as_view(),
    ("GET", "list_users"): ListUsers.as_view(),
    ("GET", "all"): QueryAll.as_view(),
}


@csrf_exempt
def collection_item(request, collection, name):
    """Route ``/v1/internal/store/{collection}/{name}`` to an action or the document."""
    action = _COLLECTION_ACTIONS.get((request.method, name))
    if action is not None:
        return action(request, collection=collection)
    return _document_item(request, collection=collection, doc_id=name)
