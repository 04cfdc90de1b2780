"""Outbound calls in the admin: read only, newest first, filterable by extension."""

from django.contrib import admin
from django.template.defaultfilters import filesizeformat

from apps.accounts.tenancy import TenantScopedAdmin
from apps.common.admin import EMPTY, ReadOnlyAdmin

from .models import OutboundCall, Outcome


@admin.register(OutboundCall)
class OutboundCallAdmin(TenantScopedAdmin, ReadOnlyAdmin):
    list_display = ("started_at", "caller", "request", "result", "duration", "received")
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

    @admin.display(description="extension · user", ordering="app_id")
    def caller(self, call):
        return f"{call.app_id} · {call.user_id}"

    @admin.display(description="request", ordering="host")
    def request(self, call):
        """METHOD scheme://host:port — never the path or query (they may hold secrets)."""
        if not call.host:
            return f"{call.method} {EMPTY}"
        port = f":{call.port}" if call.port else ""
        return f"{call.method} {call.scheme}://{call.host}{port}"

    @admin.display(description="result", ordering="outcome")
    def result(self, call):
        """The status for an answered call; else the outcome and its rule or code."""
        if call.outcome == Outcome.OK:
            return call.status
        why = call.rule or call.error_code
        return f"{call.outcome} ({why})" if why else call.outcome

    @admin.display(description="received", ordering="bytes_in")
    def received(self, call):
        return filesizeformat(call.bytes_in)
