from django.contrib import admin
from django.db.models import Q

from apps.accounts.tenancy import TenantScopedAdmin
from apps.common.admin import (
    ReadOnlyAdmin,
    cron_in_words,
    html_table,
    params_summary,
)
from apps.common.signals import operator_acted

from .models import (
    Extension,
    ExtensionHealth,
    Installation,
    LifecycleRun,
    SkeletonSection,
    WebhookCall,
)

TOOL_COLUMNS = [
    ("name", "tool"),
    ("description", "description"),
    ("params", "params"),
    ("scopes", "scopes"),
]
CHAT_FUNCTION_COLUMNS = [
    ("name", "function"),
    ("description", "description"),
    ("action_type", "action"),
    ("params", "params"),
]
PANEL_COLUMNS = [("panel_id", "panel"), ("title", "title"), ("slot", "slot")] + [
    ("params", "params")
]


SCHEDULE_COLUMNS = [("name", "schedule"), ("cron", "cron"), ("words", "when")]
SKELETON_COLUMNS = [("section", "section"), ("ttl", "TTL (s)"), ("alert", "alerts")]
WEBHOOK_COLUMNS = [("method", "method"), ("path", "path"), ("url", "URL")]
UNSERVED_COLUMNS = [("feature", "feature"), ("names", "declared"), ("reason", "why")]


def _with_params(declared):
    """Return declared handlers with their params' JSON schema as words."""
    return [{**item, "params": params_summary(item.get("params"))} for item in declared]


def _with_cron_in_words(schedules):
    return [{**s, "words": cron_in_words(s.get("cron", ""))} for s in schedules]


def _table(field, columns, rows=list, description=None):
    """Return an admin display method showing the JSON list ``field`` as a table."""

    @admin.display(description=description or field)
    def display(self, obj):
        return html_table(rows(getattr(obj, field)), columns)

    return display


def _words(field, description):
    """Return an admin display method showing the list ``field`` as words."""

    @admin.display(description=description)
    def display(self, obj):
        return ", ".join(getattr(obj, field)) or "—"

    return display


@admin.register(Extension)
class ExtensionAdmin(admin.ModelAdmin):
    list_display = (
        "app_id",
        "display_name",
        "version",
        "enabled",
        "loaded",
        "runtime",
        "health",
        "not_served",
        "synced_at",
    )
    list_filter = ("enabled", "loaded", "runtime")
    list_editable = ("enabled",)
    search_fields = ("app_id", "display_name")
    readonly_fields = (
        "app_id",
        "display_name",
        "description",
        "version",
        "entry",
        "runtime",
        "loaded",
        "health",
        "tools_table",
        "chat_functions_table",
        "panels_table",
        "schedules_table",
        "cache_models_list",
        "skeleton_sections_table",
        "webhooks_table",
        "lifecycle_hooks_list",
        "unserved_table",
        "first_seen_at",
        "synced_at",
    )
    fields = ("enabled",) + readonly_fields

    def has_add_permission(self, request):
        return False  # rows mirror the registry; sync_extensions creates them

    def save_model(self, request, obj, form, change):
        # Named in the on_enable / on_disable run the save triggers.
        obj.switched_by = request.user.get_username()
        switched = getattr(obj, "_stored_enabled", obj.enabled) != obj.enabled
        super().save_model(request, obj, form, change)
        if switched:  # inside the admin's transaction, as the save
            operator_acted.send(
                sender=type(obj),
                operator=request.user,
                action="switch",
                app_id=obj.app_id,
                detail={"enabled": obj.enabled},
            )

    @admin.display(description="health")
    def health(self, obj):
        row = ExtensionHealth.objects.filter(app_id=obj.app_id).first()
        if row is None or row.checked_at is None:
            return "—"
        return f"{row.status} @ {row.checked_at:%Y-%m-%d %H:%M:%S}"

    @admin.display(description="declared, not served")
    def not_served(self, obj):
        return ", ".join(item["feature"] for item in obj.unserved) or "—"

    tools_table = _table("tools", TOOL_COLUMNS, _with_params)
    chat_functions_table = _table(
        "chat_functions", CHAT_FUNCTION_COLUMNS, _with_params, "chat functions"
    )
    panels_table = _table("panels", PANEL_COLUMNS, _with_params)
    schedules_table = _table("schedules", SCHEDULE_COLUMNS, _with_cron_in_words)
    skeleton_sections_table = _table(
        "skeleton_sections", SKELETON_COLUMNS, description="skeleton sections"
    )
    webhooks_table = _table("webhooks", WEBHOOK_COLUMNS)
    unserved_table = _table(
        "unserved", UNSERVED_COLUMNS, description="declared, not served"
    )
    cache_models_list = _words("cache_models", "cache models")
    lifecycle_hooks_list = _words("lifecycle_hooks", "lifecycle hooks")


@admin.register(SkeletonSection)
class SkeletonSectionAdmin(TenantScopedAdmin, ReadOnlyAdmin):
    list_display = ("app_id", "user_id", "section", "status", "refreshed_at")
    list_display += ("due_at", "refreshes", "alerts")
    list_filter = ("app_id", "status")
    search_fields = ("user_id", "section")


@admin.register(LifecycleRun)
class LifecycleRunAdmin(TenantScopedAdmin, ReadOnlyAdmin):
    def tenant_scope(self, tenant):
        # Upgrades and health changes concern the extension, not a tenant.
        return Q(tenant_id=tenant) | Q(tenant_id="")

    list_display = ("started_at", "app_id", "hook", "version", "user_id", "actor")
    list_display += ("status", "duration")
    list_filter = ("hook", "status", "app_id")
    search_fields = ("app_id", "user_id", "actor")


@admin.register(ExtensionHealth)
class ExtensionHealthAdmin(ReadOnlyAdmin):
    list_display = ("app_id", "status", "checked_at", "duration", "error")
    list_filter = ("status",)


@admin.register(WebhookCall)
class WebhookCallAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "app_id", "method", "path", "status_code")
    list_display += ("body_bytes", "duration")
    list_filter = ("app_id", "status_code")
    search_fields = ("app_id", "path")


@admin.register(Installation)
class InstallationAdmin(TenantScopedAdmin, ReadOnlyAdmin):
    list_display = ("app_id", "tenant_id", "user_id", "installed_at")
    list_filter = ("app_id",)
    search_fields = ("user_id",)
