"""Notifications as ctx.notify recorded them: browsed and filtered, never edited."""

from django.contrib import admin

from apps.accounts.tenancy import TenantScopedAdmin
from apps.common.admin import ReadOnlyAdmin

from .models import Notification


@admin.register(Notification)
class NotificationAdmin(TenantScopedAdmin, ReadOnlyAdmin):
    list_display = (
        "created_at",
        "app_id",
        "user_id",
        "channel",
        "priority",
        "status",
        "read_at",
        "short_message",
    )
    list_filter = (
        "status",
        ("read_at", admin.EmptyFieldListFilter),
        "channel",
        "priority",
        "app_id",
        "tenant_id",
    )
    search_fields = ("user_id", "message", "subject")
    date_hierarchy = "created_at"

    @admin.display(description="message")
    def short_message(self, obj):
        return obj.message[:80]
