from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from imperal_platform.admin import ReadOnlyAdmin

from .models import ApiToken, SecurityEvent, User


@admin.register(User)
class PlatformUserAdmin(UserAdmin):
    list_display = ("username", "imperal_id", "email", "tenant_id", "role", "is_staff")
    list_filter = ("tenant_id", "role", "is_staff", "is_active")
    search_fields = ("username", "imperal_id", "email")
    fieldsets = UserAdmin.fieldsets + (
        (
            "Imperal identity",
            {"fields": ("imperal_id", "tenant_id", "agency_id", "role", "scopes")},
        ),
    )
    add_fieldsets = UserAdmin.add_fieldsets + (
        ("Imperal identity", {"fields": ("imperal_id", "tenant_id", "role")}),
    )


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = (
        "display_prefix",
        "user",
        "created_at",
        "last_used_at",
        "revoked_at",
    )
    list_filter = ("revoked_at",)
    search_fields = ("user__imperal_id", "display_prefix")
    readonly_fields = (
        "user",
        "token_hash",
        "display_prefix",
        "created_at",
        "last_used_at",
    )

    def has_add_permission(self, request):
        # Raw tokens are shown once by `manage.py user_token`; the admin never sees one.
        return False


@admin.register(SecurityEvent)
class SecurityEventAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "kind",
        "count",
        "app_id",
        "tenant_id",
        "user_id",
    )
    list_filter = ("kind", "app_id", "tenant_id")
    search_fields = ("user_id", "app_id")
    date_hierarchy = "created_at"
    readonly_fields = (
        "created_at",
        "last_seen_at",
        "kind",
        "count",
        "tenant_id",
        "app_id",
        "user_id",
        "detail",
    )
    exclude = ("bucket",)
