"""manage.py migrate_extensions [APP] — apply extensions' SQL migrations to their schemas."""

import json

from django.core.management.base import BaseCommand, CommandError

from apps.db.core import get_backend
from apps.db.errors import DbError
from apps.db.migrator import migrate_extension
from apps.extensions.registry import get_registry


class Command(BaseCommand):
    help = (
        "Provision each extension's own schema (PostgreSQL) or file (SQLite) and "
        "apply the pending SQL files of its migrations_dir, in order."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "app_id", nargs="?", help="only this extension (default: all loaded)"
        )

    def handle(self, *args, app_id=None, **options):
        registry = get_registry()
        if app_id is not None and registry.get(app_id) is None:
            known = ", ".join(sorted(loaded.app_id for loaded in registry)) or "none"
            raise CommandError(f"unknown extension {app_id!r} (loaded: {known})")
        targets = [registry.get(app_id)] if app_id else list(registry)
        backend = get_backend()
        report = {"backend": backend.vendor, "extensions": []}
        try:
            for loaded in targets:
                applied = migrate_extension(loaded, backend)
                report["extensions"].append(
                    {"app_id": loaded.app_id, "applied": applied}
                )
        except DbError as exc:
            report["error"] = str(exc)
            raise CommandError(str(exc)) from None
        finally:
            self.stdout.write(json.dumps(report, indent=2))
