import atexit

from django.apps import AppConfig


class DbConfig(AppConfig):
    name = "apps.db"
    label = "db"
    verbose_name = "Extension databases (ctx.db)"

    def ready(self):
        from apps.common.signals import extensions_synced

        from . import core
        from .migrator import provision_after_sync

        extensions_synced.connect(provision_after_sync)
        atexit.register(core.close_pools)
        # Celery's pool processes leave through os._exit, past atexit.
        from celery.signals import worker_process_shutdown, worker_shutdown

        worker_process_shutdown.connect(_close_pools, weak=False)
        worker_shutdown.connect(_close_pools, weak=False)


def _close_pools(**kwargs):
    from . import core

    core.close_pools()
