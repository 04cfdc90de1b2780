from django.apps import AppConfig


class SchedulerConfig(AppConfig):
    name = "apps.scheduler"
    label = "scheduler"
    verbose_name = "Scheduler"

    def ready(self):
        from celery.signals import worker_ready

        worker_ready.connect(_on_worker_ready, weak=False)


def _on_worker_ready(sender=None, **kwargs):
    from apps.extensions.sync import sync_extensions

    from .fire import reap_lost_fires

    sync_extensions()
    reap_lost_fires()
