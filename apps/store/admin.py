"""Operators browse partitions here; every write goes through the store's core.

Rows link to the console's pages of the same document or partition (by URL
name: the console is a face above this app), where documents are shown
highlighted with their history and edited against their etag.
"""

from django.contrib import admin
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from apps.accounts.tenancy import TenantScopedAdmin
from apps.common.admin import ReadOnlyAdmin

from .models import AuditEntry, Document, PartitionStats

WHOLE_PARTITION = "*"


def _console_link(route, args, text):
    """Return a link to a console page, or the text alone if it has no such page."""
    try:
        url = reverse(f"console:{route}", args=args)
    except NoReverseMatch:
        return text
    return format_html('<a href="{}">{}</a>', url, text)


@admin.register(Document)
class DocumentAdmin(TenantScopedAdmin, ReadOnlyAdmin):
    list_display = (
        "doc_id",
        "collection",
        "app_id",
        "user_id",
        "tenant_id",
        "updated_at",
        "in_console",
    )
    list_filter = ("app_id", "collection", "tenant_id")
    search_fields = ("=user_id", "=doc_id")
    search_help_text = "Exact match: a user id or a document id."
    ordering = ("tenant_id", "app_id", "user_id", "collection", "-updated_at")
    readonly_fields = [f.name for f in Document._meta.fields] + ["in_console"]

    @admin.display(description="console")
    def in_console(self, obj):
        """A link to the document's console page (JSON, history, edit)."""
        args = [obj.app_id, obj.user_id, obj.collection, obj.doc_id]
        return _console_link("document", args, "open")


@admin.register(AuditEntry)
class AuditEntryAdmin(TenantScopedAdmin, ReadOnlyAdmin):
    list_display = ("at", "op", "by", "app_id", "user_id", "collection", "document")
    list_filter = ("op", "actor", "app_id", "collection", "tenant_id")
    search_fields = ("=user_id", "=doc_id", "=operator")
    search_help_text = (
        "Exact match: a user id, a document id or an operator's username."
    )
    readonly_fields = [f.name for f in AuditEntry._meta.fields] + ["document"]

    @admin.display(description="by", ordering="actor")
    def by(self, obj):
        """The actor, and for an operator's write their username."""
        return f"operator {obj.operator}" if obj.operator else obj.actor

    @admin.display(description="document", ordering="doc_id")
    def document(self, obj):
        """The entry's document, linked to its console page (its partition for an
        erase, which names no single document)."""
        if obj.doc_id == WHOLE_PARTITION:
            return _console_link(
                "partition", [obj.app_id, obj.user_id], "whole partition"
            )
        args = [obj.app_id, obj.user_id, obj.collection, obj.doc_id]
        return _console_link("document", args, obj.doc_id)


@admin.register(PartitionStats)
class PartitionStatsAdmin(TenantScopedAdmin, ReadOnlyAdmin):
    """The trigger-kept counts, as the console's user lists read them."""

    list_display = ("user_id", "app_id", "tenant_id", "documents", "collections",
                    "last_write", "in_console")  # fmt: skip
    list_filter = ("app_id", "tenant_id")
    search_fields = ("=user_id",)
    search_help_text = "Exact match: a user id."
    ordering = ("tenant_id", "app_id", "user_id")
    readonly_fields = [f.name for f in PartitionStats._meta.fields] + ["in_console"]

    @admin.display(description="console")
    def in_console(self, obj):
        return _console_link("partition", [obj.app_id, obj.user_id], "open")
