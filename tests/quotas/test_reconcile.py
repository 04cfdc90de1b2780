"""manage.py reconcile_quotas: counters that drifted are recounted from the data."""

import json

import pytest
from django.core.management import call_command
from django.db import connection

from apps.accounts.partition import Partition
from apps.quotas import counters
from apps.quotas.signals import recount_held
from apps.store.connections import DjangoConnection
from apps.store.core import DocumentStore
from apps.store.models import PartitionStats

pytestmark = pytest.mark.django_db

ALICE = Partition("default", "notes", "alice")


def held():
    return list(
        PartitionStats.objects.values_list(
            "user_id", "documents", "bytes", "collections"
        )
    )


def test_drifted_store_counters_are_recounted(capsys):
    store = DocumentStore(DjangoConnection())
    store.create(ALICE, "user", "notes", {"text": "one"})
    store.create(ALICE, "user", "tags", {"text": "two"})
    right = held()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE store_partition_stats SET documents = 99, bytes = 1")
    assert held() != right

    call_command("reconcile_quotas")

    assert held() == right
    assert json.loads(capsys.readouterr().out)["store"] == "recounted"


def test_a_surfaces_held_kind_is_replaced_by_its_recount(capsys):
    counters.charge("files.bytes", ALICE, 500)  # drifted: the files hold 42 bytes
    counters.charge("files.bytes", ALICE.for_user("bob"), 9)  # bob has no file left

    def recount(sender, **kwargs):
        return "files.bytes", {ALICE: 42}

    recount_held.connect(recount)
    try:
        call_command("reconcile_quotas")
    finally:
        recount_held.disconnect(recount)

    assert counters.usage("files.bytes", ALICE) == 42
    assert counters.usage("files.bytes", ALICE.for_user("bob")) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["files.bytes"] == {"counters": 1, "replaced": 2}
