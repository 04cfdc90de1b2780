"""An error id from a 500 answer leads an operator to its traceback in the admin,
in their own tenant only, for a retention period; obvious secrets never stored."""

import datetime

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone

from apps.accounts.models import User
from apps.observability.models import RecordedError
from apps.observability.retention import prune_recorded_errors
from apps.observability.scrub import scrub

from .conftest import APP

CHANGELIST = "/admin/observability/recordederror/"


def operator(name, tenant="default", superuser=False):
    """Return a test client signed in as a staff user who may view recorded errors."""
    user = User.objects.create(
        username=name,
        imperal_id=name,
        tenant_id=tenant,
        is_staff=True,
        is_superuser=superuser,
    )
    if not superuser:
        user.user_permissions.add(Permission.objects.get(codename="view_recordederror"))
    client = Client()
    client.force_login(user)
    return client


def failed_call(as_alice):
    """Make alice's call of the raising tool; return its error id."""
    answer = as_alice.call("boom", {"text": "private words"}, HTTP_X_REQUEST_ID="rq-1")
    assert answer.status_code == 500
    error = answer.json()["error"]
    assert error["code"] == "handler_failed"
    assert "private words" not in answer.content.decode()
    return error["detail"]["error_id"]


def test_a_failed_calls_error_id_finds_its_row_and_traceback_on_the_admin_page(
    as_alice,
):
    error_id = failed_call(as_alice)
    olga = operator("olga")

    listing = olga.get(CHANGELIST, {"q": error_id})
    assert listing.status_code == 200
    (row,) = listing.context["cl"].result_list
    assert row.error_id == error_id
    page = olga.get(f"{CHANGELIST}{row.pk}/change/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "Traceback (most recent call last)" in html
    assert "ValueError: password=[scrubbed] could not handle private words" in html
    assert "hunter2" not in html
    # What the row says besides: the request, the route, the call and its user.
    assert (row.kind, row.request_id, row.route) == (
        "handler_failed",
        "rq-1",
        "api:tool-call",
    )
    assert (row.app_id, row.handler, row.exception_type) == (APP, "boom", "ValueError")
    assert (row.tenant_id, row.user_id) == ("default", "alice")


def test_the_search_finds_an_error_by_its_request_id_too(as_alice):
    error_id = failed_call(as_alice)
    listing = operator("olga").get(CHANGELIST, {"q": "rq-1"})
    assert [r.error_id for r in listing.context["cl"].result_list] == [error_id]


def test_an_operator_of_another_tenant_finds_nothing_and_a_superuser_finds_it(
    as_alice,
):
    error_id = failed_call(as_alice)
    (row,) = RecordedError.objects.filter(error_id=error_id)
    outsider = operator("otto", tenant="other")
    listing = outsider.get(CHANGELIST, {"q": error_id})
    assert list(listing.context["cl"].result_list) == []
    assert outsider.get(f"{CHANGELIST}{row.pk}/change/").status_code == 404
    root = operator("root", tenant="other", superuser=True)
    assert root.get(f"{CHANGELIST}{row.pk}/change/").status_code == 200


def test_a_recorded_error_cannot_be_edited_or_deleted_from_the_admin(as_alice):
    error_id = failed_call(as_alice)
    row = RecordedError.objects.get(error_id=error_id)
    root = operator("root", superuser=True)
    page = root.get(f"{CHANGELIST}{row.pk}/change/").content.decode()
    assert 'name="_save"' not in page
    assert (
        root.post(f"{CHANGELIST}{row.pk}/delete/", {"post": "yes"}).status_code == 403
    )
    assert RecordedError.objects.filter(error_id=error_id).exists()


def test_an_internal_error_outside_drf_is_an_error_id_recorded_with_its_route(
    db, settings
):
    settings.ROOT_URLCONF = "tests.observability.failing_urls"
    answer = Client(raise_request_exception=False).get(
        "/v1/failing", HTTP_X_REQUEST_ID="rq-2"
    )
    assert answer.status_code == 500
    error = answer.json()["error"]
    assert error["code"] == "internal"
    assert "secret" not in answer.content.decode()
    row = RecordedError.objects.get(error_id=error["detail"]["error_id"])
    assert (row.kind, row.route, row.request_id) == ("internal", "failing", "rq-2")
    assert "RuntimeError: token=[scrubbed]" in row.traceback


@pytest.fixture
def aged_errors(db):
    """Three recorded errors: 40 days, 29 days and one minute old."""
    now = timezone.now()
    for error_id, age in (("old", 40), ("recent", 29), ("new", 0)):
        RecordedError.objects.create(
            error_id=error_id,
            kind="internal",
            exception_type="RuntimeError",
            created_at=now - datetime.timedelta(days=age, minutes=1),
        )
    return now


def test_errors_past_the_retention_are_pruned_and_newer_ones_kept(
    aged_errors, settings
):
    settings.IMPERAL_ERROR_RETENTION_DAYS = 30
    assert prune_recorded_errors(now=aged_errors, batch_size=1) == 1
    assert set(RecordedError.objects.values_list("error_id", flat=True)) == {
        "recent",
        "new",
    }


def test_a_retention_of_zero_days_keeps_every_error(aged_errors, settings):
    settings.IMPERAL_ERROR_RETENTION_DAYS = 0
    assert prune_recorded_errors(now=aged_errors) == 0
    assert RecordedError.objects.count() == 3


@pytest.mark.parametrize(
    "text, kept, gone",
    [
        ("password=hunter2 failed", "password=[scrubbed] failed", "hunter2"),
        ('{"api_key": "sk-123456"}', '"api_key": "[scrubbed]"', "sk-123456"),
        ("Authorization: Bearer abcdefgh12345678", "Bearer [scrubbed]", "abcdefgh"),
        ("Token 0123456789abcdef was refused", "Token [scrubbed]", "0123456789"),
        (
            "postgres://app:pa55w0rd@db:5432/x",
            "postgres://app:[scrubbed]@db",
            "pa55w0rd",
        ),
        ("client_secret: s3cr3tvalue", "client_secret: [scrubbed]", "s3cr3tvalue"),
    ],
)
def test_obvious_secrets_are_scrubbed(text, kept, gone):
    scrubbed = scrub(text)
    assert kept in scrubbed and gone not in scrubbed


def test_text_without_secrets_is_kept_as_it_is():
    text = 'File "main.py", line 3, in work\n    raise KeyError("note 42")'
    assert scrub(text) == text
