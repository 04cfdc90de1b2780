"""Schedules and their runs in the admin.

One schedule UI: the console's schedules page (cron in words, next fire, the
enabled switch, "Run now"); the Schedule changelist leads there. Runs are read
only. django-celery-beat's own models are not in the admin: our beat entries
are written by sync_extensions and switched from the schedules page, and the
clocked, solar and interval schedules are used by nothing here.
"""

import json

from django.contrib import admin
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.html import format_html
from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    SolarSchedule,
)

from apps.common.admin import ReadOnlyAdmin, cron_in_words, human_duration, link

from .models import Schedule, ScheduleRun, ScheduleShardRun

SCHEDULES_PAGE = "console:schedules"

for _beat_model in (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    SolarSchedule,
):
    if admin.site.is_registered(_beat_model):
        admin.site.unregister(_beat_model)


@admin.register(Schedule)
class ScheduleAdmin(admin.ModelAdmin):
    """The per-schedule timeout, shards and catch-up policy are edited here; the
    rest is the schedules page."""

    readonly_fields = ("app_id", "name", "cron", "when", "enabled", "present")
    fields = readonly_fields + ("timeout_seconds", "shards", "catch_up")

    def has_add_permission(self, request):
        return False  # schedules come from @ext.schedule via sync_extensions

    def has_delete_permission(self, request, obj=None):
        return False  # sync_extensions marks a vanished schedule, keeping its runs

    def changelist_view(self, request, extra_context=None):
        return redirect(SCHEDULES_PAGE)

    @admin.display(description="when")
    def when(self, obj):
        return cron_in_words(obj.cron)

    @admin.display(boolean=True)
    def enabled(self, obj):
        return obj.enabled

    def response_change(self, request, obj):
        if "_continue" in request.POST:
            return super().response_change(request, obj)
        return redirect(SCHEDULES_PAGE)


class ShardRunInline(admin.TabularInline):
    """Each shard of a sharded fire, read only."""

    model = ScheduleShardRun
    fields = ("index", "status", "attempts", "users_fanned_out", "duration")
    fields += ("started_at", "finished_at", "worker", "error")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="duration")
    def duration(self, shard):
        return human_duration(shard.duration_ms)


@admin.register(ScheduleRun)
class ScheduleRunAdmin(ReadOnlyAdmin):
    inlines = [ShardRunInline]
    list_display = (
        "started_at",
        "app_id",
        "schedule",
        "slot",
        "status",
        "duration",
        "users_fanned_out",
        "trigger",
        "short_error",
    )
    list_filter = ("status", "app_id", "schedule", "trigger")
    search_fields = ("app_id", "schedule", "slot", "error")
    date_hierarchy = "started_at"
    fields = (
        "schedule_link",
        "slot",
        "trigger",
        "triggered_by",
        "status",
        "started_at",
        "finished_at",
        "duration",
        "users_fanned_out",
        "shards",
        "progress",
        "attempts",
        "worker",
        "task_id",
        "lease_expires_at",
        "heartbeat_at",
        "error",
        "result_json",
        "traceback",
    )

    def get_inlines(self, request, obj):
        # An unsharded run has no shard runs: no empty table under its page.
        return self.inlines if obj is not None and obj.shards > 1 else []

    @admin.display(description="schedule")
    def schedule_link(self, run):
        label = f"{run.app_id}:{run.schedule}"
        return link(f"{reverse(SCHEDULES_PAGE)}#{label}", label)

    @admin.display(description="progress")
    def progress(self, run):
        if run.progress_percent is None:
            return run.progress_message or "—"
        return f"{run.progress_percent:.0f}% {run.progress_message}".strip()

    @admin.display(description="error")
    def short_error(self, run):
        return run.error[:100] or "—"

    @admin.display(description="result")
    def result_json(self, run):
        if run.result is None:
            return "—"
        text = json.dumps(run.result, indent=2, sort_keys=True, ensure_ascii=False)
        return format_html("<pre>{}</pre>", text)
