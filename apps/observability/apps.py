from django.apps import AppConfig


class ObservabilityConfig(AppConfig):
    name = "apps.observability"
    label = "observability"
    verbose_name = "Observability"

    def ready(self):
        from apps.common.signals import error_logged

        from .recording import record_error

        error_logged.connect(record_error, dispatch_uid="observability-record-error")
