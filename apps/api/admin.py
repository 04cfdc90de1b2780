"""What operators did, with their names: a record, each linked to what it touched."""

from urllib.parse import urlencode

from django.contrib import admin
from django.urls import NoReverseMatch, reverse

from apps.accounts.tenancy import TenantScopedAdmin
from apps.common.admin import ReadOnlyAdmin, link

from .models import OperatorAction


@admin.register(OperatorAction)
class OperatorActionAdmin(TenantScopedAdmin, ReadOnlyAdmin):
    list_display = ("at", "action", "operator", "target", "what", "documents")
    list_filter = ("action", "app_id", "tenant_id")
    search_fields = ("=user_id", "=operator", "=doc_id")
    search_help_text = (
        "Exact match: a user id, an operator's username or a document id."
    )

    @admin.display(description="on", ordering="app_id")
    def target(self, row):
        """What was acted on, linked to its page in the console (or the admin)."""
        label = " / ".join(p for p in (row.app_id, row.user_id, row.collection) if p)
        if row.doc_id:
            label += f" / {row.doc_id}"
        url = _target_url(row)
        return link(url, label) if url else label

    @admin.display(description="detail")
    def what(self, row):
        """The action's detail as words (an etag, a cache entry, a run, a state)."""
        detail = row.detail or {}
        return ", ".join(f"{key} {value}" for key, value in detail.items()) or "—"


def _target_url(row):
    try:
        if row.doc_id and row.action != OperatorAction.Action.DELETE:
            args = [row.app_id, row.user_id, row.collection, row.doc_id]
            return reverse("console:document", args=args)
        if row.user_id:
            return reverse("console:partition", args=[row.app_id, row.user_id])
        if "schedule" in (row.detail or {}):
            return (
                reverse("console:schedules") + f"#{row.app_id}:{row.detail['schedule']}"
            )
        changelist = reverse("admin:extensions_extension_changelist")
        return f"{changelist}?{urlencode({'q': row.app_id})}"
    except NoReverseMatch:
        return ""
