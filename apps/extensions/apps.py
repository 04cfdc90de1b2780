from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ExtensionsConfig(AppConfig):
    name = "apps.extensions"
    label = "extensions"
    verbose_name = "Extensions"

    def ready(self):
        post_migrate.connect(_sync_after_migrate, sender=self)


def _sync_after_migrate(sender, using="default", **kwargs):
    from .sync import sync_extensions

    sync_extensions(using=using)
