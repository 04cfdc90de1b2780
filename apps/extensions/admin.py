from django.contrib import admin

from .models import Extension, SecurityEvent


@admin.register(Extension)
class ExtensionAdmin(admin.ModelAdmin):
    list_display = (
        "app_id",
        "display_name",
        "version",
        "enabled",
        "loaded",
        "synced_at",
    )
    list_filter = ("enabled", "loaded")
    list_editable = ("enabled",)
    search_fields = ("app_id", "display_name")
    readonly_fields = (
        "app_id",
        "display_name",
        "description",
        "version",
        "entry",
        "loaded",
        "tools",
        "panels",
        "schedules",
        "cache_models",
        "first_seen_at",
        "synced_at",
    )

    def has_add_permission(self, request):
        return False  # rows mirror the registry; sync_extensions creates them


@admin.register(SecurityEvent)
class SecurityEventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "kind", "app_id", "tenant_id", "user_id")
    list_filter = ("kind", "app_id", "tenant_id")
    search_fields = ("user_id", "app_id")
    date_hierarchy = "created_at"
    readonly_fields = ("created_at", "kind", "tenant_id", "app_id", "user_id", "detail")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
