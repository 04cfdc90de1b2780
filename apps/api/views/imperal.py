"""``POST /v1/extensions/{app_id}/call`` and ``/batch``: Imperal's Auth Gateway shapes."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from .. import calls
from ..schema import errors
from ..serializers import (
    BATCH_MAX_CALLS,
    BatchCallRequestSerializer,
    BatchCallResponseSerializer,
    CallRequestSerializer,
    CallResponseSerializer,
)
from .base import ApiView


class ExtensionCall(ApiView):
    @extend_schema(
        summary="Run a function of an extension (Imperal's CallRequest)",
        request=CallRequestSerializer,
        responses={200: CallResponseSerializer, **errors(400, 404, 409, 500, 504, 507)},
        tags=["imperal"],
    )
    def post(self, request, app_id):
        """``user_id`` must be the authenticated user's, unless the caller has
        accounts.act_for_users; any other user is a 403 and a security event.
        Refusals use the one error shape; a handler's own error result is a
        CallResponse with status "error"."""
        body = _valid(CallRequestSerializer, request)
        user_id, tenant_id = calls.acting_identity(
            request.user, app_id, body["user_id"], body["tenant_id"]
        )
        return Response(
            calls.run_call(app_id, body["function"], user_id, body["params"], tenant_id)
        )


class ExtensionBatch(ApiView):
    @extend_schema(
        summary="Run several functions of an extension in order (BatchCallRequest)",
        description=f"At most {BATCH_MAX_CALLS} calls; a refused or failed "
        'call is a CallResponse with status "error" whose error starts with its code.',
        request=BatchCallRequestSerializer,
        responses={200: BatchCallResponseSerializer, **errors(400)},
        tags=["imperal"],
    )
    def post(self, request, app_id):
        body = _valid(BatchCallRequestSerializer, request)
        user_id, tenant_id = calls.acting_identity(
            request.user, app_id, body["user_id"], body["tenant_id"]
        )
        results = [
            calls.run_batch_item(app_id, item, user_id, tenant_id)
            for item in body["calls"]
        ]
        return Response({"results": results})


def _valid(serializer_class, request):
    body = serializer_class(data=request.data)
    body.is_valid(raise_exception=True)
    return body.validated_data
