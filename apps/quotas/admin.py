"""Operators set quota limits in the admin and read the usage counters.

A limit applies to an extension in every tenant, so only an operator who
crosses tenants (a superuser) adds, changes or deletes one; usage rows are
each one tenant's, read-only and scoped like every per-tenant page.
"""

from django.contrib import admin

from apps.accounts.tenancy import TenantScopedAdmin, crosses_tenants

from .models import QuotaLimit, Usage


@admin.register(QuotaLimit)
class QuotaLimitAdmin(admin.ModelAdmin):
    list_display = ("app_id", "kind", "user_id", "value", "updated_at")
    list_filter = ("kind",)
    search_fields = ("app_id", "user_id")
    fields = ("app_id", "kind", "user_id", "value")

    def has_add_permission(self, request):
        return crosses_tenants(request.user) and super().has_add_permission(request)

    def has_change_permission(self, request, obj=None):
        return crosses_tenants(request.user) and super().has_change_permission(
            request, obj
        )

    def has_delete_permission(self, request, obj=None):
        return crosses_tenants(request.user) and super().has_delete_permission(
            request, obj
        )


@admin.register(Usage)
class UsageAdmin(TenantScopedAdmin, admin.ModelAdmin):
    list_display = ("app_id", "user_id", "kind", "period", "used")
    list_filter = ("kind",)
    search_fields = ("app_id", "user_id")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
