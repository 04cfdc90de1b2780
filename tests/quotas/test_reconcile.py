"""manage.py reconcile_quotas: counters that drifted are recounted from the data."""

import json

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from apps.accounts.partition import Partition
from apps.files.models import StoredFile
from apps.quotas import counters
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


def test_file_bytes_are_replaced_by_the_files_recount(capsys):
    now = timezone.now()
    for name, size in (("a.txt", 30), ("b.txt", 12)):
        StoredFile.objects.create(
            **ALICE.fields(),
            path=name,
            storage_key=f"k/{name}",
            size=size,
            content_type="text/plain",
            created_at=now,
            updated_at=now,
        )
    counters.charge("files.bytes", ALICE, 500)  # drifted: the files hold 42 bytes
    counters.charge("files.bytes", ALICE.for_user("bob"), 9)  # bob has no file left

    call_command("reconcile_quotas")

    assert counters.usage("files.bytes", ALICE) == 42
    assert counters.usage("files.bytes", ALICE.for_user("bob")) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["files.bytes"] == {"counters": 1, "replaced": 2}
