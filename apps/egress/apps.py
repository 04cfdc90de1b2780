import atexit

from django.apps import AppConfig
from django.core.signals import setting_changed

from .policy import current_policy, reset_policy


class EgressConfig(AppConfig):
    name = "apps.egress"
    label = "egress"
    verbose_name = "Outbound calls (ctx.http)"

    def ready(self):
        from celery.signals import worker_process_shutdown, worker_shutdown

        from .limits import check_rate_setting
        from .records import recorder

        # A malformed IMPERAL_EGRESS_ALLOW or _RATE stops the start, by name.
        current_policy()
        check_rate_setting()
        setting_changed.connect(_settings_changed, dispatch_uid="egress-settings")
        atexit.register(recorder.flush)
        # Celery's pool processes leave through os._exit, past atexit.
        worker_process_shutdown.connect(_flush, weak=False)
        worker_shutdown.connect(_flush, weak=False)


def _settings_changed(setting, **kwargs):
    if setting.startswith("IMPERAL_EGRESS_"):
        from .limits import permits

        reset_policy()
        permits.forget()


def _flush(**kwargs):
    from .records import recorder

    recorder.flush()
