from django.apps import AppConfig
from django.core.signals import setting_changed
from django.db.models.signals import post_delete, post_save


class QuotasConfig(AppConfig):
    name = "apps.quotas"
    label = "quotas"
    verbose_name = "Quotas and usage"

    def ready(self):
        from . import limits
        from .models import QuotaLimit

        # A malformed IMPERAL_QUOTAS stops the start, naming the key.
        limits.configured()
        setting_changed.connect(_settings_changed, dispatch_uid="quotas-settings")
        for signal in (post_save, post_delete):
            signal.connect(
                _limits_changed, sender=QuotaLimit, dispatch_uid=f"quotas-{signal}"
            )


def _settings_changed(setting, **kwargs):
    if setting == "IMPERAL_QUOTAS":
        from . import limits

        limits.configured.cache_clear()


def _limits_changed(**kwargs):
    from . import limits

    limits.forget()
