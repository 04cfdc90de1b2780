from celery.signals import worker_ready
from django.apps import AppConfig

from apps.common.signals import extensions_synced

from .signals import catch_up_due, shards_due


class SchedulerConfig(AppConfig):
    name = "apps.scheduler"
    label = "scheduler"
    verbose_name = "Scheduler"

    def ready(self):
        # tasks imports the models, which are not loaded when this module is
        # imported.
        from . import tasks

        worker_ready.connect(_on_worker_ready, weak=False)
        extensions_synced.connect(_sync_beat_entries, dispatch_uid="scheduler-beat")
        shards_due.connect(tasks.queue_shards, dispatch_uid="scheduler-queue-shards")
        catch_up_due.connect(
            tasks.queue_catch_up, dispatch_uid="scheduler-queue-catch-up"
        )


def _sync_beat_entries(sender, registry, summary, **kwargs):
    # beat imports the models, not loaded when this module is imported.
    from .beat import sync_schedules

    summary["errors"].extend(sync_schedules(registry))


def _on_worker_ready(sender=None, **kwargs):
    # Both import models, not loaded when this module is imported.
    from apps.extensions.sync import sync_extensions

    from .fire import reap_lost_fires

    sync_extensions()
    reap_lost_fires()
