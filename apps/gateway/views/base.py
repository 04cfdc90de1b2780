"""What every gateway view shares: its credentials, permission, parser and renderer."""

from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from apps.common.http import BoundedJSONParser

from ..authentication import (
    CallTokenAuthentication,
    HasGatewayIdentity,
    ServiceTokenAuthentication,
)


class GatewayView(APIView):
    """A /v1/internal/* route: a call token or a service token, JSON in and out.

    A call token comes first: imperal-sdk's CacheClient sends it beside an
    X-Service-Token, and it is the narrower of the two.
    """

    # imperal-sdk's clients never send OPTIONS and no browser calls the gateway:
    # it is refused (405 in the error shape) like any method a route lacks,
    # rather than answering DRF's description of the view.
    http_method_names = [m for m in APIView.http_method_names if m != "options"]
    authentication_classes = [CallTokenAuthentication, ServiceTokenAuthentication]
    permission_classes = [HasGatewayIdentity]
    parser_classes = [BoundedJSONParser]
    renderer_classes = [JSONRenderer]
