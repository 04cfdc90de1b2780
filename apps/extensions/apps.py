from django.apps import AppConfig
from django.db.models.signals import post_migrate

from imperal_platform.signals import app_id_lookup

from .registry import get_registry


class ExtensionsConfig(AppConfig):
    name = "apps.extensions"
    label = "extensions"
    verbose_name = "Extensions"

    def ready(self):
        post_migrate.connect(_sync_after_migrate, sender=self)
        app_id_lookup.connect(_is_loaded, dispatch_uid="extensions-registry")


def _sync_after_migrate(sender, using="default", **kwargs):
    from .sync import sync_extensions

    sync_extensions(using=using)


def _is_loaded(sender, app_id, **kwargs):
    return get_registry().get(app_id) is not None
