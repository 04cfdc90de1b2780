from django.apps import AppConfig

from apps.common.signals import operator_acted


class ApiConfig(AppConfig):
    name = "apps.api"
    label = "api"
    verbose_name = "REST API"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from .actions import on_operator_acted  # needs the app's models loaded

        operator_acted.connect(on_operator_acted, dispatch_uid="api.operator_acted")
