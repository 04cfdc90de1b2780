"""Extensions: what is enabled, and calling a tool or panel as the signed-in user."""

from asgiref.sync import async_to_sync
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from apps.extensions.invocation import prepare_panel, prepare_tool
from apps.extensions.models import Extension as ExtensionRow
from apps.extensions.registry import get_registry
from apps.extensions.sync import describe

from ..schema import errors
from ..serializers import (
    ExtensionListSerializer,
    HandlerCallSerializer,
    HandlerResultSerializer,
)
from .base import ApiView

LISTED_FIELDS = ("display_name", "description", "version", "tools", "panels")


def enabled_extensions():
    """Return the loaded extensions no operator disabled, as JSON values."""
    disabled = set(ExtensionRow.objects.disabled_app_ids())
    listing = []
    for loaded in get_registry():
        if loaded.app_id in disabled:
            continue
        described = describe(loaded)
        entry = {"app_id": loaded.app_id}
        entry.update({name: described[name] for name in LISTED_FIELDS})
        entry["schedules"] = described["schedules"]
        listing.append(entry)
    return sorted(listing, key=lambda e: e["app_id"])


class ExtensionList(ApiView):
    @extend_schema(
        summary="List the enabled extensions with their tools, panels and schedules",
        responses={200: ExtensionListSerializer, **errors()},
        tags=["extensions"],
    )
    def get(self, request):
        return Response({"extensions": enabled_extensions()})


class HandlerCall(ApiView):
    """POST a handler's params; answer what it returned (as ``manage.py ext call``)."""

    prepare = None  # subclasses must specify: prepare_tool or prepare_panel

    def post(self, request, app_id, name):
        body = HandlerCallSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        user = request.user
        call = type(self).prepare(
            app_id,
            name,
            user.imperal_id,
            body.validated_data["params"],
            tenant_id=user.tenant_id,
        )
        return Response({"result": async_to_sync(call.run)()})


CALL_ERRORS = errors(400, 404, 409, 500, 504, 507)


class ToolCall(HandlerCall):
    prepare = staticmethod(prepare_tool)

    @extend_schema(
        summary="Call a tool as the signed-in user",
        description="Params are validated against the tool's signature before it "
        "runs: a bad or missing param is a 400 naming it, and the tool never ran.",
        request=HandlerCallSerializer,
        responses={200: HandlerResultSerializer, **CALL_ERRORS},
        tags=["extensions"],
    )
    def post(self, request, app_id, name):
        return super().post(request, app_id, name)


class PanelCall(HandlerCall):
    prepare = staticmethod(prepare_panel)

    @extend_schema(
        summary="Render a panel as the signed-in user",
        request=HandlerCallSerializer,
        responses={200: HandlerResultSerializer, **CALL_ERRORS},
        tags=["extensions"],
    )
    def post(self, request, app_id, name):
        return super().post(request, app_id, name)
