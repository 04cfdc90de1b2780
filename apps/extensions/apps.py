from django.apps import AppConfig
from django.db.models.signals import post_migrate

from apps.common.signals import known_name_lookup

from .registry import get_registry


class ExtensionsConfig(AppConfig):
    name = "apps.extensions"
    label = "extensions"
    verbose_name = "Extensions"

    def ready(self):
        post_migrate.connect(_sync_after_migrate, sender=self)
        known_name_lookup.connect(_is_known, dispatch_uid="extensions-known-names")


def _sync_after_migrate(sender, using="default", **kwargs):
    from .sync import sync_extensions

    sync_extensions(using=using)


def _is_known(sender, app_id, kind=None, name=None, **kwargs):
    """Answer known_name_lookup: is ``app_id`` loaded (and does it declare ``name``)?"""
    loaded = get_registry().get(app_id)
    if loaded is None:
        return False
    return kind is None or loaded.declares(kind, name)
