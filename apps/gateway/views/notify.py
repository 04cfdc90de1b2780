"""``POST /v1/internal/notify``: imperal-sdk's NotifyClient over the notify core."""

from rest_framework.response import Response

from apps.notifications.core import send_notification

from .. import wire
from ..authentication import (
    BearerCallTokenAuthentication,
    BearerServiceTokenAuthentication,
    CallTokenAuthentication,
    ServiceTokenAuthentication,
)
from ..identity import acting_partition
from .base import GatewayView

# Fields that say where the request acts, not what the notification holds.
ROUTING_FIELDS = ("message", "tenant_id")


class Notify(GatewayView):
    """``{"user_id", "message", "extension_id"?, **kwargs}`` with a Bearer service token."""

    # imperal-sdk's NotifyClient sends whatever token it holds as Bearer: a
    # service token, or (in an isolated worker) the invocation's call token.
    authentication_classes = [
        BearerCallTokenAuthentication,
        BearerServiceTokenAuthentication,
        CallTokenAuthentication,
        ServiceTokenAuthentication,
    ]

    def post(self, request):
        body = wire.body_of(request)
        partition = acting_partition(request, body)
        fields = {k: v for k, v in body.items() if k not in ROUTING_FIELDS}
        notification = send_notification(partition, body.get("message"), **fields)
        return Response(
            {
                "id": notification.pk,
                "channel": notification.channel,
                "status": notification.status,
            },
            status=201,
        )
