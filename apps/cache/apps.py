from django.apps import AppConfig


class CacheConfig(AppConfig):
    name = "apps.cache"
    label = "cache"
    verbose_name = "Extension cache"

    def ready(self):
        from django.core.signals import setting_changed

        from .core import reset_core_on_setting_change

        setting_changed.connect(reset_core_on_setting_change)
