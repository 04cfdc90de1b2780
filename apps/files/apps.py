from django.apps import AppConfig


class FilesConfig(AppConfig):
    name = "apps.files"
    label = "files"
    verbose_name = "Files (ctx.storage)"

    def ready(self):
        # Imported here: the core reads models, which are not loaded when apps.py is.
        from apps.quotas.signals import recount_held

        from .core import recount_file_bytes

        recount_held.connect(recount_file_bytes, dispatch_uid="files.bytes")
