from django.contrib import admin

from imperal_platform.admin import ReadOnlyAdmin

from .models import OperatorAction


@admin.register(OperatorAction)
class OperatorActionAdmin(ReadOnlyAdmin):
    list_display = ("at", "action", "operator", "app_id", "user_id", "documents")
    list_filter = ("action", "app_id", "tenant_id")
    search_fields = ("=user_id", "operator")
    readonly_fields = [f.name for f in OperatorAction._meta.fields]
