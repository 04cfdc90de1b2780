from django.contrib import admin

from imperal_platform.admin import ReadOnlyAdmin

from .models import (
    Extension,
    ExtensionHealth,
    Installation,
    LifecycleRun,
    SkeletonSection,
    WebhookCall,
)


@admin.register(Extension)
class ExtensionAdmin(admin.ModelAdmin):
    list_display = (
        "app_id",
        "display_name",
        "version",
        "enabled",
        "loaded",
        "health",
        "not_served",
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
        "health",
        "tools",
        "chat_functions",
        "panels",
        "schedules",
        "cache_models",
        "skeleton_sections",
        "webhooks",
        "lifecycle_hooks",
        "unserved",
        "first_seen_at",
        "synced_at",
    )

    def has_add_permission(self, request):
        return False  # rows mirror the registry; sync_extensions creates them

    def save_model(self, request, obj, form, change):
        # Named in the on_enable / on_disable run the save triggers.
        obj.switched_by = request.user.get_username()
        super().save_model(request, obj, form, change)

    @admin.display(description="health")
    def health(self, obj):
        row = ExtensionHealth.objects.filter(app_id=obj.app_id).first()
        if row is None or row.checked_at is None:
            return "—"
        return f"{row.status} @ {row.checked_at:%Y-%m-%d %H:%M:%S}"

    @admin.display(description="declared, not served")
    def not_served(self, obj):
        return ", ".join(item["feature"] for item in obj.unserved) or "—"


@admin.register(SkeletonSection)
class SkeletonSectionAdmin(ReadOnlyAdmin):
    list_display = (
        "app_id",
        "user_id",
        "section",
        "status",
        "refreshed_at",
        "due_at",
        "refreshes",
        "alerts",
    )
    list_filter = ("app_id", "status")
    search_fields = ("user_id", "section")


@admin.register(LifecycleRun)
class LifecycleRunAdmin(ReadOnlyAdmin):
    list_display = (
        "started_at",
        "app_id",
        "hook",
        "version",
        "user_id",
        "actor",
        "status",
        "duration_ms",
    )
    list_filter = ("hook", "status", "app_id")
    search_fields = ("app_id", "user_id", "actor")


@admin.register(ExtensionHealth)
class ExtensionHealthAdmin(ReadOnlyAdmin):
    list_display = ("app_id", "status", "checked_at", "duration_ms", "error")
    list_filter = ("status",)


@admin.register(WebhookCall)
class WebhookCallAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "app_id",
        "method",
        "path",
        "status_code",
        "body_bytes",
        "duration_ms",
    )
    list_filter = ("app_id", "status_code")
    search_fields = ("app_id", "path")


@admin.register(Installation)
class InstallationAdmin(ReadOnlyAdmin):
    list_display = ("app_id", "tenant_id", "user_id", "installed_at")
    list_filter = ("app_id",)
    search_fields = ("user_id",)
