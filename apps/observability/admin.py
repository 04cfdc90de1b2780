"""Recorded errors, as operators find them: by the error id a caller was given."""

from django.contrib import admin
from django.utils.html import format_html

from apps.accounts.tenancy import TenantScopedAdmin
from apps.common.admin import EMPTY, ReadOnlyAdmin

from .models import RecordedError


@admin.register(RecordedError)
class RecordedErrorAdmin(TenantScopedAdmin, ReadOnlyAdmin):
    """One row per failure answered with an error id. An operator sees their own
    tenant's (the calls of its users); errors no user's call can be tied to
    (an internal error before authentication) only a superuser sees."""

    # Few, short columns: the request id is searchable, the rest is on the row's page.
    list_display = ("error_id", "created_at", "kind", "exception_type", "app_id")
    list_display += ("handler",)
    list_filter = ("kind", "app_id", "tenant_id")
    search_fields = ("=error_id", "=request_id")
    search_help_text = (
        "An error id (from a 500 answer's detail.error_id) or a request id "
        "(X-Request-ID), exactly."
    )
    date_hierarchy = "created_at"
    fields = (
        "error_id",
        "created_at",
        "kind",
        "exception_type",
        "message",
        "traceback_text",
        "request_id",
        "route",
        "method",
        "tenant_id",
        "user_id",
        "app_id",
        "handler",
    )
    readonly_fields = ("traceback_text",)

    @admin.display(description="traceback")
    def traceback_text(self, error):
        """The traceback as it was logged, secrets scrubbed, in a preformatted block."""
        if not error.traceback:
            return EMPTY
        return format_html(
            '<pre class="imperal-traceback" style="white-space: pre-wrap">{}</pre>',
            error.traceback,
        )
