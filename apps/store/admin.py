"""Operators browse partitions here; every write goes through the store's core."""

from django.contrib import admin

from imperal_platform.admin import ReadOnlyAdmin

from .models import AuditEntry, Document


@admin.register(Document)
class DocumentAdmin(ReadOnlyAdmin):
    list_display = (
        "doc_id",
        "collection",
        "app_id",
        "user_id",
        "tenant_id",
        "updated_at",
    )
    list_filter = ("app_id", "collection", "tenant_id")
    search_fields = ("=user_id", "=doc_id")
    ordering = ("tenant_id", "app_id", "user_id", "collection", "-updated_at")
    readonly_fields = [f.name for f in Document._meta.fields]


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ("at", "op", "actor", "app_id", "user_id", "collection", "doc_id")
    list_filter = ("op", "actor", "app_id", "collection", "tenant_id")
    search_fields = ("=user_id", "=doc_id")
    readonly_fields = [f.name for f in AuditEntry._meta.fields]
