"""My usage: what I hold and use in each extension, beside the limits that apply to me."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from .. import data, usage
from ..schema import errors
from ..serializers import MyUsageSerializer
from .base import ApiView


class MyUsage(ApiView):
    @extend_schema(
        summary="My usage per extension: documents, bytes, cache entries, files, "
        "AI tokens and outbound calls, with the limits that apply to me",
        responses={200: MyUsageSerializer, **errors()},
        tags=["my data"],
    )
    def get(self, request):
        """Figures are counters kept as data is written (no data is read): what
        is held now, or this UTC day's total for tokens and calls."""
        user = request.user
        return Response(
            {
                "user_id": user.imperal_id,
                "tenant_id": user.tenant_id,
                "day": usage.today(),
                "extensions": [
                    {
                        "app_id": app_id,
                        "usage": usage.partition_usage(self.partition(app_id)),
                    }
                    for app_id in sorted(data.known_app_ids())
                ],
            }
        )
