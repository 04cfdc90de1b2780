"""Outbound calls in the admin: read only, newest first, filterable by extension."""

from django.contrib import admin
from django.template.defaultfilters import filesizeformat

from imperal_platform.admin import EMPTY, ReadOnlyAdmin

from .models import OutboundCall


@admin.register(OutboundCall)
class OutboundCallAdmin(ReadOnlyAdmin):
    list_display = (
        "started_at",
        "app_id",
        "user_id",
        "method",
        "destination",
        "status",
        "outcome",
        "rule",
        "duration",
        "sent",
        "received",
    )
    list_filter = ("outcome", "app_id", "method", "tenant_id")
    search_fields = ("host", "app_id", "user_id")
    date_hierarchy = "started_at"
    fields = (
        "started_at",
        "tenant_id",
        "app_id",
        "user_id",
        "method",
        "scheme",
        "host",
        "port",
        "status",
        "redirects",
        "outcome",
        "error_code",
        "rule",
        "refused_host",
        "duration_ms",
        "bytes_out",
        "bytes_in",
    )

    @admin.display(description="destination", ordering="host")
    def destination(self, call):
        """scheme://host:port — never the path or query (they may hold secrets)."""
        port = f":{call.port}" if call.port else ""
        return f"{call.scheme}://{call.host}{port}" if call.host else EMPTY

    @admin.display(description="sent", ordering="bytes_out")
    def sent(self, call):
        return filesizeformat(call.bytes_out)

    @admin.display(description="received", ordering="bytes_in")
    def received(self, call):
        return filesizeformat(call.bytes_in)
