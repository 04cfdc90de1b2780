from django.contrib import admin

from .models import ExtensionMigration


@admin.register(ExtensionMigration)
class ExtensionMigrationAdmin(admin.ModelAdmin):
    list_display = ("app_id", "filename", "checksum", "applied_at")
    list_filter = ("app_id",)
    readonly_fields = ("app_id", "filename", "checksum", "applied_at")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
