from django.contrib import admin

from .models import Extension


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
        "chat_functions",
        "panels",
        "schedules",
        "cache_models",
        "first_seen_at",
        "synced_at",
    )

    def has_add_permission(self, request):
        return False  # rows mirror the registry; sync_extensions creates them
