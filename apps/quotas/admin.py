"""Operators set quota limits in the admin and see usage rows (read-only)."""

from django.contrib import admin

from .models import QuotaLimit, Usage


@admin.register(QuotaLimit)
class QuotaLimitAdmin(admin.ModelAdmin):
    list_display = ("app_id", "kind", "user_id", "value", "updated_at")
    list_filter = ("kind",)
    search_fields = ("app_id", "user_id")
    fields = ("app_id", "kind", "user_id", "value")


@admin.register(Usage)
class UsageAdmin(admin.ModelAdmin):
    list_display = ("app_id", "user_id", "kind", "period", "used")
    list_filter = ("kind",)
    search_fields = ("app_id", "user_id")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
