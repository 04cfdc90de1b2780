"""ctx.ai calls in the admin: read only, newest first, filterable by extension."""

from django.contrib import admin

from apps.accounts.tenancy import TenantScopedAdmin
from apps.common.admin import ReadOnlyAdmin

from .models import AICall, Status


@admin.register(AICall)
class AICallAdmin(TenantScopedAdmin, ReadOnlyAdmin):
    list_display = ("started_at", "caller", "model", "tokens", "duration", "result")
    list_filter = ("status", "app_id", "model", "tenant_id")
    search_fields = ("app_id", "user_id", "model")
    date_hierarchy = "started_at"
    fields = (
        "started_at",
        "tenant_id",
        "app_id",
        "user_id",
        "provider",
        "model",
        "input_tokens",
        "output_tokens",
        "duration_ms",
        "status",
        "error_code",
        "provider_status",
    )

    @admin.display(description="extension · user", ordering="app_id")
    def caller(self, call):
        return f"{call.app_id} · {call.user_id}"

    @admin.display(description="tokens in / out")
    def tokens(self, call):
        return f"{call.input_tokens} / {call.output_tokens}"

    @admin.display(description="result", ordering="status")
    def result(self, call):
        if call.status == Status.OK:
            return call.status
        return f"{call.status} ({call.error_code})" if call.error_code else call.status
