"""manage.py reconcile_quotas: recount the quota counters from the data (drift repair).

The store's documents and bytes are recounted from the documents table (the
partition statistics); every held kind another surface counts is recounted by
that surface (apps.quotas.signals.recount_held). Daily and per-minute kinds
are counts of events, not of data: nothing to recount. Run it when the
counters may have drifted (a bulk load past the store, a restored backup).
"""

import json

from django.core.management.base import BaseCommand
from django.db import connection, transaction

from apps.quotas.reconcile import replace_held
from apps.quotas.signals import recount_held
from apps.store import stats


class Command(BaseCommand):
    help = "Recount the quota counters (documents, bytes, files) from the data."

    def handle(self, *args, **options):
        with transaction.atomic(), connection.cursor() as cursor:
            stats.rebuild(cursor, connection.vendor)
        report = {"store": "recounted"}
        for _receiver, answer in recount_held.send(sender=self.__class__):
            kind, amounts = answer
            written, removed = replace_held(kind, amounts)
            report[kind] = {"counters": written, "replaced": removed}
        self.stdout.write(json.dumps(report))
