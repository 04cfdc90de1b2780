"""Every ctx.http call leaves an OutboundCall row and a Prometheus count — holding
the host, never a body, header, path or query string."""

import datetime

import pytest
from django.db import models
from django.utils import timezone
from prometheus_client import generate_latest

from apps.accounts.partition import Partition
from apps.egress.models import OutboundCall
from apps.egress.records import recorder
from apps.egress.retention import prune_outbound_calls

from .conftest import calls_of, run

pytestmark = pytest.mark.django_db(transaction=True)

SECRETS = ("QUERY-SECRET", "PATH-SECRET", "BODY-SECRET", "HEADER-SECRET")


def test_a_call_is_recorded_with_its_host_and_never_its_secrets(
    upstream, allow, http, app_id
):
    allow(f"127.0.0.1:{upstream.port}")
    response = run(
        http().post(
            upstream.url("/echo/PATH-SECRET?token=QUERY-SECRET"),
            params={"key": "QUERY-SECRET"},
            json={"password": "BODY-SECRET"},
            headers={"X-Api-Key": "HEADER-SECRET"},
        )
    )
    assert response.status_code == 404  # the path is not a route: still a call
    (call,) = calls_of(app_id)
    assert (call.tenant_id, call.user_id, call.method) == ("default", "alice", "POST")
    assert (call.scheme, call.host, call.port) == ("http", "127.0.0.1", upstream.port)
    assert (call.status, call.outcome, call.error_code) == (404, "ok", "")
    assert call.bytes_out > len('{"password":"BODY-SECRET"}')
    assert call.bytes_in > 0 and call.duration_ms > 0
    stored = " ".join(str(getattr(call, f.attname)) for f in OutboundCall._meta.fields)
    assert not any(secret in stored for secret in SECRETS)


def test_calls_are_counted_on_metrics_by_extension_and_outcome(
    upstream, allow, http, app_id
):
    allow(f"127.0.0.1:{upstream.port}")
    run(http().get(upstream.url("/json?token=QUERY-SECRET")))
    with pytest.raises(PermissionError):
        run(http().get("http://localhost:1/PATH-SECRET"))
    metrics = generate_latest().decode()
    for outcome in ("ok", "refused"):
        line = (
            f'imperal_egress_calls_total{{app_id="{app_id}",outcome="{outcome}"}} 1.0'
        )
        assert line in metrics
    assert not any(secret in metrics for secret in SECRETS)


def test_a_refused_call_is_recorded_as_refused(http, app_id):
    with pytest.raises(PermissionError):
        run(http().get("http://169.254.169.254/latest/meta-data/iam?x=QUERY-SECRET"))
    (call,) = calls_of(app_id)
    assert (call.outcome, call.rule, call.host, call.port) == (
        "refused",
        "link-local",
        "169.254.169.254",
        80,
    )


def old_and_new_rows(app_id, now):
    partition = Partition("default", app_id, "alice")
    for days in (20, 13):
        OutboundCall.objects.create(
            **partition.fields(),
            started_at=now - datetime.timedelta(days=days),
            method="GET",
            scheme="https",
            host="api.example.test",
            duration_ms=1.0,
            outcome="ok",
        )


def test_rows_past_the_retention_are_deleted(settings, app_id):
    settings.IMPERAL_OUTBOUND_CALL_RETENTION_DAYS = 14
    now = timezone.now()
    old_and_new_rows(app_id, now)
    assert prune_outbound_calls(now=now) == 1
    kept = OutboundCall.objects.of_app(app_id).aggregate(
        oldest=models.Min("started_at")
    )
    assert kept["oldest"] == now - datetime.timedelta(days=13)


def test_a_retention_of_zero_keeps_every_row(settings, app_id):
    settings.IMPERAL_OUTBOUND_CALL_RETENTION_DAYS = 0
    old_and_new_rows(app_id, timezone.now())
    assert prune_outbound_calls() == 0
    assert OutboundCall.objects.of_app(app_id).count() == 2


def _row(app_id, **fields):
    return {
        "started_at": timezone.now(),
        "tenant_id": "default",
        "app_id": app_id,
        "user_id": "alice",
        "method": "GET",
        "scheme": "https",
        "host": "api.example.test",
        "duration_ms": 1.0,
        "outcome": "ok",
        **fields,
    }


def test_a_batch_that_fails_to_store_leaves_the_writer_storing_the_next(app_id, caplog):
    # A value the database layer refuses with an error that is not a
    # DatabaseError (Django's ValidationError for a malformed date).
    recorder.record(_row(app_id, started_at="not a date"))
    assert recorder.flush(), "the failed batch was not given up on"
    assert "outbound call record(s) not stored: ValidationError" in caplog.text
    recorder.record(_row(app_id, host="after.example.test"))
    assert [call.host for call in calls_of(app_id)] == ["after.example.test"]
