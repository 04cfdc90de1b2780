"""What every admin page of the platform shares."""

from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    """Browsing only: rows written by a core (etags, audit trail, counters) are never
    edited, added or deleted by hand."""

    # Counting a million rows on every page load costs more than it tells.
    show_full_result_count = False
    list_per_page = 50

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
