"""``POST /v1/internal/ai/complete``: imperal-sdk's AIClient over the ai core.

The body is what imperal-sdk 6.3.7's ``ai/client.py`` sends: ``{"prompt",
"model", "extension_id", **kwargs}`` with ``X-Service-Token`` or
``Authorization: Bearer``; the answer is what it reads: ``{"text", "model",
"usage", "stop_reason", "tokens_used"}``.
"""

from asgiref.sync import async_to_sync
from rest_framework.response import Response

from apps.ai.core import complete

from .. import wire
from ..authentication import (
    BearerCallTokenAuthentication,
    BearerServiceTokenAuthentication,
    CallTokenAuthentication,
    ServiceTokenAuthentication,
)
from ..identity import acting_partition
from .base import GatewayView

# Fields that say where the request acts, not what the completion asks.
ROUTING_FIELDS = ("prompt", "model", "extension_id", "tenant_id", "user_id")


class Complete(GatewayView):
    authentication_classes = [
        CallTokenAuthentication,
        BearerCallTokenAuthentication,
        BearerServiceTokenAuthentication,
        ServiceTokenAuthentication,
    ]

    def post(self, request):
        body = wire.body_of(request)
        partition = acting_partition(request, body)
        options = {k: v for k, v in body.items() if k not in ROUTING_FIELDS}
        result = async_to_sync(complete)(
            partition, body.get("prompt"), body.get("model"), **options
        )
        return Response(
            {
                "text": result.text,
                "model": result.model,
                "usage": result.usage,
                "stop_reason": result.stop_reason,
                "tokens_used": result.tokens_used,
            }
        )
