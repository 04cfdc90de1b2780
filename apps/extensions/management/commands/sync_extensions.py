"""manage.py sync_extensions — mirror the extension registry into the database."""

import json

from django.core.management.base import BaseCommand, CommandError

from apps.extensions.sync import sync_extensions


class Command(BaseCommand):
    help = "Mirror the loaded extensions into Extension rows (after migrate, at worker start)."

    def handle(self, *args, **options):
        summary = sync_extensions()
        self.stdout.write(json.dumps(summary, indent=2))
        if summary["errors"]:
            raise CommandError("; ".join(summary["errors"]))
