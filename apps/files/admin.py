"""Stored files in the admin: read only (files change through ctx.storage, and
leave through erase); the console lists and downloads them per partition."""

from django.contrib import admin
from django.template.defaultfilters import filesizeformat

from apps.accounts.tenancy import TenantScopedAdmin
from apps.common.admin import ReadOnlyAdmin

from .models import StoredFile


@admin.register(StoredFile)
class StoredFileAdmin(TenantScopedAdmin, ReadOnlyAdmin):
    list_display = ("path", "owner", "bytes", "content_type", "updated_at")
    list_filter = ("app_id", "tenant_id")
    search_fields = ("path", "app_id", "user_id")
    date_hierarchy = "created_at"
    fields = (
        "tenant_id",
        "app_id",
        "user_id",
        "path",
        "size",
        "content_type",
        "created_at",
        "updated_at",
        "storage_key",
    )

    @admin.display(description="extension · user", ordering="app_id")
    def owner(self, row):
        return f"{row.app_id} · {row.user_id}"

    @admin.display(description="size", ordering="size")
    def bytes(self, row):
        return filesizeformat(row.size)
