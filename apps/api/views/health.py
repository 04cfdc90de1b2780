"""GET /healthz: 200 when the database, the caches and the broker answer, else 503.

Unauthenticated, so it publishes states only: ``ok``/``down`` per service and
each extension's health status; why something is down is in the log and, for
extensions, in the admin (*Extension health*).
"""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.common.errors import CodedError
from apps.extensions.health import health_statuses

from .. import health
from ..schema import ERROR_MEANINGS
from ..serializers import ErrorSerializer, HealthSerializer


class Unavailable(CodedError, Exception):
    """One or more services are down; the message names them."""

    code = "unavailable"
    retry_after = 5


class Healthz(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer]

    @extend_schema(
        summary="Report the database, the caches and the broker one by one",
        responses={
            200: HealthSerializer,
            503: OpenApiResponse(ErrorSerializer, description=ERROR_MEANINGS[503]),
        },
        tags=["health"],
    )
    def get(self, request):
        checks = health.run_checks()
        down = [name for name, state in checks.items() if state != health.UP]
        if down:
            raise Unavailable(
                f"down: {', '.join(down)}; ok: "
                + (", ".join(n for n in checks if n not in down) or "none")
            )
        return Response(
            {"status": "ok", "checks": checks, "extensions": health_statuses()}
        )
