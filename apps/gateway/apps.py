from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class GatewayConfig(AppConfig):
    name = "apps.gateway"
    label = "gateway"
    verbose_name = "Gateway"

    def ready(self):
        from apps.accounts.models import User
        from apps.extensions.models import Extension

        from .lookups import extension_disabled, tenant_of

        for signal in (post_save, post_delete):
            signal.connect(extension_disabled.forget, sender=Extension, weak=False)
            signal.connect(tenant_of.forget, sender=User, weak=False)
