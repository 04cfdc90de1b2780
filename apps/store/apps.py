from django.apps import AppConfig
from django.db.backends.signals import connection_created


class StoreConfig(AppConfig):
    name = "apps.store"
    label = "store"
    verbose_name = "Document store"

    def ready(self):
        from .backends.sqlite import register_functions

        connection_created.connect(register_functions, dispatch_uid="store-sqlite")
