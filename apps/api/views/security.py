"""Operators: security events (refused cross-partition attempts) of their tenant."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from apps.accounts.models import SecurityEvent

from ..schema import errors
from ..serializers import SecurityEventPageSerializer, SecurityEventSerializer
from . import pages
from .base import OperatorView


class SecurityEventQuery(pages.PageQuery):
    kind = pages.optional_text(64)
    app_id = pages.optional_text(128)
    tenant = pages.optional_text(64, help_text="Superusers only: another tenant.")


class SecurityEvents(OperatorView):
    required_permissions = ("accounts.view_securityevent",)

    @extend_schema(
        summary="List security events, newest first",
        parameters=[SecurityEventQuery],
        responses={200: SecurityEventPageSerializer, **errors(400)},
        tags=["operators"],
    )
    def get(self, request):
        options = pages.options(SecurityEventQuery, request)
        events = SecurityEvent.objects.filter(tenant_id=self.tenant())
        for name in ("kind", "app_id"):
            if options.get(name):
                events = events.filter(**{name: options[name]})
        page, cursor = pages.keyset_page(events, "created_at", options)
        return Response(
            {
                "data": SecurityEventSerializer(page, many=True).data,
                "cursor": cursor,
                "has_more": cursor is not None,
            }
        )
