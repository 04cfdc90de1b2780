from django.apps import AppConfig
from django.db.models.signals import post_migrate, post_save

from apps.common.signals import known_name_lookup

from .registry import get_registry


class ExtensionsConfig(AppConfig):
    name = "apps.extensions"
    label = "extensions"
    verbose_name = "Extensions"

    def ready(self):
        # These modules import the app's models, which are not loaded yet when
        # this module is imported.
        from .context import serve_skeleton
        from .lifecycle import run_switch_hook_after_save
        from .skeleton import SkeletonReader

        serve_skeleton(SkeletonReader)
        post_save.connect(
            run_switch_hook_after_save,
            sender=self.get_model("Extension"),
            dispatch_uid="extensions-switch-hook",
        )
        post_migrate.connect(_sync_after_migrate, sender=self)
        known_name_lookup.connect(_is_known, dispatch_uid="extensions-known-names")


def _sync_after_migrate(sender, using="default", **kwargs):
    # sync imports the app's models, not loaded when this module is imported.
    from .sync import sync_extensions

    sync_extensions(using=using)


def _is_known(sender, app_id, kind=None, name=None, **kwargs):
    """Answer known_name_lookup: is ``app_id`` loaded (and does it declare ``name``)?"""
    loaded = get_registry().get(app_id)
    if loaded is None:
        return False
    return kind is None or loaded.declares(kind, name)
