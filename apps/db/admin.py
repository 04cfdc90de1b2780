"""Extension SQL migrations applied by migrate_extensions: a record, never edited."""

from django.contrib import admin

from apps.common.admin import ReadOnlyAdmin

from .models import ExtensionMigration


@admin.register(ExtensionMigration)
class ExtensionMigrationAdmin(ReadOnlyAdmin):
    list_display = ("app_id", "filename", "checksum", "applied_at")
    list_filter = ("app_id",)
    search_fields = ("app_id", "filename")
