"""manage.py prune_audit --older-than DAYS [--dry-run] — trim the store's audit trail."""

import datetime
import json
import sys

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from apps.store.history import PRUNE_BATCH, count_prunable, prune_audit

OLDER_THAN_MAX_DAYS = 36_500


class Command(BaseCommand):
    help = (
        "Delete the store's audit entries older than DAYS days (documents stay); "
        "prints {deleted, before} as JSON, and progress on stderr."
    )
    batch_size = PRUNE_BATCH

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than",
            type=int,
            required=True,
            metavar="DAYS",
            help=f"delete entries written more than DAYS days ago "
            f"(1-{OLDER_THAN_MAX_DAYS})",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="count the entries that would be deleted; delete nothing",
        )

    def handle(self, *args, older_than, dry_run, **options):
        if not 1 <= older_than <= OLDER_THAN_MAX_DAYS:
            raise CommandError(
                f"--older-than must be 1-{OLDER_THAN_MAX_DAYS} days, got {older_than}",
                returncode=2,
            )
        before = timezone.now() - datetime.timedelta(days=older_than)
        if dry_run:
            answer = {"would_delete": count_prunable(before)}
        else:
            answer = {
                "deleted": prune_audit(
                    before, batch_size=self.batch_size, progress=_print_progress
                )
            }
        self.stdout.write(json.dumps({**answer, "before": before.isoformat()}))


def _print_progress(deleted):
    print(json.dumps({"deleted_so_far": deleted}), file=sys.stderr)
