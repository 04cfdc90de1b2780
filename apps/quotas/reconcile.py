"""Drift repair: replace held usage counters with a recount from the data."""

from django.db import transaction

from .kinds import HELD, kind_of
from .models import Usage


def replace_held(kind, amounts):
    """Replace every held counter of ``kind`` with ``amounts`` ({partition: n});
    return (counters written, counters removed), in one transaction."""
    if kind_of(kind).window != HELD:
        raise ValueError(f"quotas: only a held kind is recounted, not {kind}")
    with transaction.atomic():
        removed, _ = Usage.objects.filter(kind=kind, period="").delete()
        Usage.objects.bulk_create(
            Usage(**partition.fields(), kind=kind, period="", used=amount)
            for partition, amount in amounts.items()
            if amount
        )
    return sum(1 for amount in amounts.values() if amount), removed
