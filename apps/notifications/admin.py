from django.contrib import admin

from .models import Notification


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
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
    readonly_fields = [f.name for f in Notification._meta.fields]

    @admin.display(description="message")
    def short_message(self, obj):
        return obj.message[:80]

    def has_add_permission(self, request):
        return False
