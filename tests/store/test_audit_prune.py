"""manage.py prune_audit: the audit trail trimmed to a retention, documents kept."""

import datetime
import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from apps.store.management.commands.prune_audit import Command
from apps.store.models import AuditEntry, Document

from .conftest import partition, stored_state

pytestmark = pytest.mark.django_db


@pytest.fixture
def trail(core):
    """Six writes by alice and bob; four of their audit entries are 40 days old."""
    for user in ("alice", "bob"):
        for n in range(3):
            core.create(partition(user_id=user), "user", "notes", {"doc_id": f"d{n}"})
    old = timezone.now() - datetime.timedelta(days=40)
    AuditEntry.objects.filter(doc_id__in=["d0", "d1"]).update(at=old)
    return core


def prune(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("prune_audit", *args, stdout=out, stderr=err)
    return json.loads(out.getvalue())


def test_it_deletes_the_entries_older_than_the_retention_and_keeps_documents(trail):
    documents = stored_state()[0]
    answer = prune("--older-than", "30")
    assert answer["deleted"] == 4
    assert sorted(AuditEntry.objects.values_list("user_id", "doc_id")) == [
        ("alice", "d2"),
        ("bob", "d2"),
    ]
    assert stored_state()[0] == documents
    assert Document.objects.count() == 6


def test_it_deletes_in_batches_and_reports_progress(trail, monkeypatch, capsys):
    monkeypatch.setattr(Command, "batch_size", 3)
    call_command("prune_audit", "--older-than", "30", stdout=io.StringIO())
    progress = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert progress == [{"deleted_so_far": 3}, {"deleted_so_far": 4}]
    assert AuditEntry.objects.count() == 2


def test_a_dry_run_counts_and_deletes_nothing(trail):
    before = stored_state()
    assert prune("--older-than", "30", "--dry-run")["would_delete"] == 4
    assert stored_state() == before


@pytest.mark.parametrize("days", ["0", "-1", "36501"])
def test_it_refuses_a_retention_out_of_range_and_deletes_nothing(trail, days):
    before = stored_state()
    with pytest.raises(
        CommandError, match=f"--older-than must be 1-36500 days, got {days}"
    ):
        prune("--older-than", days)
    assert stored_state() == before
