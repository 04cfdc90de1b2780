"""Operators' exports and erases of partitions: a record, linked to the partition."""

from django.contrib import admin
from django.urls import reverse

from apps.accounts.tenancy import TenantScopedAdmin
from imperal_platform.admin import ReadOnlyAdmin, link

from .models import OperatorAction


@admin.register(OperatorAction)
class OperatorActionAdmin(TenantScopedAdmin, ReadOnlyAdmin):
    list_display = ("at", "action", "operator", "partition", "documents")
    list_filter = ("action", "app_id", "tenant_id")
    search_fields = ("=user_id", "operator")

    @admin.display(description="partition", ordering="app_id")
    def partition(self, row):
        """The partition acted on, linked to its page in the console."""
        url = reverse("console:partition", args=[row.app_id, row.user_id])
        return link(url, f"{row.app_id} / {row.user_id}")
