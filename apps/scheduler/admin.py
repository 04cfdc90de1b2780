from django.contrib import admin, messages

from .fire import manual_slot
from .models import Schedule, ScheduleRun


@admin.register(Schedule)
class ScheduleAdmin(admin.ModelAdmin):
    list_display = (
        "label",
        "cron",
        "enabled",
        "present",
        "timeout_seconds",
        "last_run",
    )
    list_filter = ("app_id", "present")
    search_fields = ("app_id", "name")
    readonly_fields = (
        "app_id",
        "name",
        "cron",
        "periodic_task",
        "present",
        "disabled_by_sync",
    )
    fields = readonly_fields + ("timeout_seconds",)
    actions = ["run_now", "enable", "disable"]

    def has_add_permission(self, request):
        return False  # schedules come from @ext.schedule via sync_extensions

    @admin.display(boolean=True)
    def enabled(self, obj):
        return obj.enabled

    @admin.display(description="last run")
    def last_run(self, obj):
        run = ScheduleRun.objects.filter(app_id=obj.app_id, schedule=obj.name).first()
        return f"{run.status} @ {run.slot}" if run else "—"

    @admin.action(description="Run now (queued for a worker)")
    def run_now(self, request, queryset):
        from .tasks import fire_schedule_task

        for schedule in queryset:
            fire_schedule_task.delay(
                schedule.app_id, schedule.name, slot=manual_slot(), trigger="manual"
            )
        messages.info(request, f"Queued {queryset.count()} schedule(s) for a worker.")

    @admin.action(description="Enable")
    def enable(self, request, queryset):
        self._switch(queryset, True)

    @admin.action(description="Disable")
    def disable(self, request, queryset):
        self._switch(queryset, False)

    def _switch(self, queryset, enabled):
        for schedule in queryset.select_related("periodic_task"):
            if schedule.periodic_task is not None:
                schedule.periodic_task.enabled = enabled
                schedule.periodic_task.save()  # save() tells beat


@admin.register(ScheduleRun)
class ScheduleRunAdmin(admin.ModelAdmin):
    list_display = (
        "started_at",
        "app_id",
        "schedule",
        "slot",
        "status",
        "duration_ms",
        "users_fanned_out",
        "progress",
        "attempts",
        "worker",
    )
    list_filter = ("status", "app_id", "schedule", "trigger")
    search_fields = ("app_id", "schedule", "slot", "error")
    date_hierarchy = "started_at"

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in ScheduleRun._meta.fields]

    @admin.display(description="progress")
    def progress(self, run):
        if run.progress_percent is None:
            return run.progress_message
        return f"{run.progress_percent:.0f}% {run.progress_message}".strip()

    def has_add_permission(self, request):
        return False
