from django.apps import AppConfig


class SchedulerConfig(AppConfig):
    name = "apps.scheduler"
    label = "scheduler"
    verbose_name = "Scheduler"

    def ready(self):
        from celery.signals import worker_ready

        from apps.common.signals import extensions_synced

        worker_ready.connect(_on_worker_ready, weak=False)
        extensions_synced.connect(_sync_beat_entries, dispatch_uid="scheduler-beat")


def _sync_beat_entries(sender, registry, summary, **kwargs):
    from .beat import sync_schedules

    summary["errors"].extend(sync_schedules(registry))


def _on_worker_ready(sender=None, **kwargs):
    from apps.extensions.sync import sync_extensions

    from .fire import reap_lost_fires

    sync_extensions()
    reap_lost_fires()
