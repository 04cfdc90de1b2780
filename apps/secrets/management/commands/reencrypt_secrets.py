"""manage.py reencrypt_secrets [--batch N] — move every secret value to the newest key."""

import json

from django.core.management.base import BaseCommand, CommandError

from apps.secrets.keys import SETTING
from apps.secrets.rotation import BATCH, reencrypt

BATCH_MAX = 10_000


class Command(BaseCommand):
    help = (
        f"Seal every secret value again under the newest key of {SETTING} (the "
        "first); prints what was done as JSON, and progress on stderr. Run it "
        "after putting a new key first; then the old key may be removed."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--batch",
            type=int,
            default=BATCH,
            help=f"values per transaction (1-{BATCH_MAX}, default {BATCH})",
        )

    def handle(self, *args, batch, **options):
        if not 1 <= batch <= BATCH_MAX:
            raise CommandError(
                f"--batch must be 1-{BATCH_MAX}, got {batch}", returncode=2
            )
        result = reencrypt(batch=batch, progress=self._progress)
        self.stdout.write(json.dumps(result.as_dict()))
        if result.unopened:
            raise CommandError(
                f"{result.unopened} value(s) could not be opened (sealed under a key "
                f"{SETTING} does not hold, or failing their integrity check) and "
                "stay as they were; the log names them"
            )

    def _progress(self, done, pending):
        self.stderr.write(f"reencrypt_secrets: {done}/{pending} values")
