"""``GET /v1/internal/skeleton/{app}/{user}/{section}``: imperal-sdk's SkeletonClient.

Answers as the SDK reads it: 200 ``{"data": value}``, or 404 for a section the
extension does not declare or that has no value yet. A stale section is
refreshed first, exactly as ``ctx.skeleton.get`` does in process. A call token
must be a skeleton call's (imperal-sdk lets only ``@ext.skeleton`` tools read
sections); a service token acts for the user as on every gateway route.
"""

from asgiref.sync import async_to_sync
from django.utils import timezone
from rest_framework.authentication import get_authorization_header
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from apps.extensions.errors import ExtensionNotFound
from apps.extensions.registry import get_registry
from apps.extensions.skeleton import read_section

from . import calltokens
from .authentication import CallTokenAuthentication, ServiceTokenAuthentication
from .identity import GatewayForbidden, acting_partition
from .views.base import GatewayView

SKELETON_TOOL_TYPE = "skeleton"


class SkeletonCallTokenAuthentication(CallTokenAuthentication):
    """A call token, refused unless its tool type is ``skeleton``."""

    def authenticate(self, request):
        authenticated = super().authenticate(request)
        if authenticated is None:
            return None
        raw = get_authorization_header(request).split()[1].decode("ascii")
        tool_type = calltokens.verify(raw).tool_type
        if tool_type != SKELETON_TOOL_TYPE:
            raise GatewayForbidden(
                f"skeleton sections are read only by @ext.skeleton calls; this call "
                f"token is a {tool_type!r} call's (I-SKELETON-LLM-ONLY)"
            )
        return authenticated


class SkeletonSection(GatewayView):
    """One section of one user of one extension."""

    authentication_classes = [
        SkeletonCallTokenAuthentication,
        ServiceTokenAuthentication,
    ]

    def get(self, request, app, user, section):
        partition = acting_partition(
            request, request.query_params, path_app=app, path_user=user
        )
        if get_registry().get(partition.app_id) is None:
            raise ExtensionNotFound(partition.app_id)
        value = async_to_sync(read_section)(
            partition.app_id, partition, section, timezone.now
        )
        if value is None:
            raise NotFound(
                f"no skeleton section {section[:128]!r} with a value for this user"
            )
        return Response({"data": value})
