"""Operators: security events (refused cross-partition attempts) of their tenant."""

from drf_spectacular.utils import extend_schema, extend_schema_view

from apps.accounts.models import SecurityEvent

from ..schema import errors
from ..serializers import SecurityEventPageSerializer, SecurityEventSerializer
from . import pages
from .base import OperatorView


class SecurityEventQuery(pages.PageQuery):
    kind = pages.optional_text(64)
    app_id = pages.optional_text(128)
    tenant = pages.optional_text(64, help_text="Superusers only: another tenant.")


@extend_schema_view(
    get=extend_schema(
        summary="List security events, newest first",
        parameters=[SecurityEventQuery],
        responses={200: SecurityEventPageSerializer, **errors(400)},
        tags=["operators"],
    )
)
class SecurityEvents(pages.KeysetList, OperatorView):
    required_permissions = ("accounts.view_securityevent",)
    query_class = SecurityEventQuery

    def rows(self, options):
        events = SecurityEvent.objects.filter(tenant_id=self.tenant())
        for name in ("kind", "app_id"):
            if options.get(name):
                events = events.filter(**{name: options[name]})
        return events

    def serialize(self, page):
        return SecurityEventSerializer(page, many=True).data
