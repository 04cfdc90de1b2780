"""Partitions stored under user ids from before the rule: nothing breaks for anyone.

Such rows are written here through the store core and the ORM directly (no
face makes them any more). The console's pages list, open, export and erase
them; a schedule's fan-out and the gateway's list_users pass them by; a user
account holding such an id still reads, exports and erases its own data, and
its tool calls are refused before anything runs.
"""

import datetime
import json
import logging

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.accounts.identity import system_user_context
from apps.accounts.models import User
from apps.accounts.partition import Partition
from apps.extensions.context import build_context
from apps.extensions.models import Installation, LifecycleRun, SkeletonSection
from apps.extensions.skeleton import refresh_due
from apps.extensions.sync import sync_extensions
from apps.gateway.tokens import issue_token
from apps.notifications.models import Notification
from apps.scheduler.fire import fire_now
from apps.store.connections import DjangoConnection
from apps.store.core import DocumentStore
from apps.store.models import Document
from tests.api.conftest import Api, cache_prefix, token_for  # noqa: F401  (a fixture)

pytestmark = pytest.mark.django_db

APP = "uid-probe"
# Ids the review stored (SQLite keeps 5,000 characters; PostgreSQL's column 128).
LEGACY = ["a/b", "..", ".", "two words", "<b>x</b>", "100%/x"]


@pytest.fixture(autouse=True)
def extension(use_extensions, cache_prefix):  # noqa: F811  (the imported fixture)
    loaded = use_extensions("tests.fixtures.extensions.uid_probe")
    sync_extensions()
    return loaded.get(APP)


def store_as(user_id, doc_id="main"):
    DocumentStore(DjangoConnection()).create(
        Partition("default", APP, user_id), "user", "profiles", {"doc_id": doc_id}
    )


@pytest.fixture
def legacy_rows():
    for user_id in ["alice", *LEGACY]:
        store_as(user_id)
    return LEGACY


@pytest.fixture
def operator():
    olga = User.objects.create(username="olga", imperal_id="olga", is_staff=True)
    for codename in ("view_document", "delete_document"):
        olga.user_permissions.add(
            Permission.objects.get(content_type__app_label="store", codename=codename)
        )
    client = Client()
    client.force_login(olga)
    return client


def test_the_console_users_page_lists_every_partition_with_working_links(
    operator, legacy_rows
):
    page = operator.get(reverse("console:users", args=[APP]))

    assert page.status_code == 200
    html = page.content.decode()
    for user_id in legacy_rows:
        link = reverse("console:partition", args=[APP, user_id])
        assert f'href="{link}"' in html
        assert operator.get(link).status_code == 200, user_id


@pytest.mark.parametrize("user_id", LEGACY)
def test_an_operator_exports_and_erases_a_legacy_partition(operator, user_id):
    store_as(user_id)
    store_as("alice")

    export = operator.get(reverse("console:export", args=[APP, user_id]))
    assert export.status_code == 200
    exported = json.loads(b"".join(export.streaming_content))
    assert [d["id"] for d in exported["documents"]] == ["main"]

    erase = reverse("console:erase", args=[APP, user_id])
    assert operator.get(erase).status_code == 200
    assert operator.post(erase).status_code == 200
    assert list(Document.objects.values_list("user_id", flat=True)) == ["alice"]


def test_a_schedule_fans_out_past_legacy_ids_to_every_reachable_user(
    legacy_rows, caplog
):
    caplog.set_level(logging.WARNING)
    run = fire_now(APP, "fan_out", local=True)

    assert run.status == "success", run.error
    assert run.result == {"reached": ["alice"]}
    notified = Notification.objects.values_list("user_id", flat=True)
    assert list(notified) == ["alice"]
    assert f"{len(LEGACY)} stored user id(s) break the user-id rule" in caplog.text


def test_the_seed_loop_passes_legacy_ids_by_too(extension, legacy_rows):
    ctx = build_context(extension.ext, system_user_context())

    async def names():
        return [str(user) async for user in ctx.store.list_users("profiles")]

    assert async_to_sync(names)() == ["alice"]


def test_the_gateway_list_users_answers_only_reachable_ids(legacy_rows):
    raw = issue_token(APP, user_id="__system__").raw
    answer = Client().get(
        "/v1/internal/store/profiles/list_users?cursor=0&limit=3",
        HTTP_X_SERVICE_TOKEN=raw,
    )
    assert answer.status_code == 200, answer.content
    listed, cursor = answer.json()["user_ids"], answer.json()["next_cursor"]
    while cursor:
        page = (
            Client()
            .get(
                f"/v1/internal/store/profiles/list_users?cursor={cursor}&limit=3",
                HTTP_X_SERVICE_TOKEN=raw,
            )
            .json()
        )
        listed, cursor = listed + page["user_ids"], page["next_cursor"]
    assert listed == ["alice"]


def test_erasing_a_legacy_partition_skips_its_uninstall_hook_and_erases(
    operator,
):
    store_as("a/b")
    Installation.objects.create(tenant_id="default", app_id=APP, user_id="a/b")

    erase = reverse("console:erase", args=[APP, "a/b"])
    assert operator.post(erase).status_code == 200

    assert not Document.objects.exists()  # nor a "goodbyes" document of the hook
    run = LifecycleRun.objects.get(hook="on_uninstall")
    assert (run.user_id, run.status) == ("a/b", "skipped")
    assert "breaks the user-id rule" in run.error
    assert not Installation.objects.exists()


def test_a_legacy_skeleton_row_fails_its_refresh_and_waits_its_ttl(legacy_rows):
    for user_id in ("a/b", "alice"):
        Installation.objects.create(tenant_id="default", app_id=APP, user_id=user_id)
    now = timezone.now()

    refresh_due(lambda: now)

    rows = {r.user_id: r for r in SkeletonSection.objects.all()}
    assert rows["alice"].value == {"user": "alice"}
    assert rows["a/b"].status == "failed"
    assert "a user id is a string of 1-128" in rows["a/b"].error
    assert rows["a/b"].due_at == now + datetime.timedelta(seconds=60)


@pytest.fixture
def legacy_user():
    """An account made before the rule (bulk_create does not call save())."""
    (user,) = User.objects.bulk_create(
        [User(username="legacy", imperal_id="a/b", email="a@example.com")]
    )
    store_as("a/b")
    return User.objects.get(pk=user.pk)


def test_a_legacy_account_still_reads_exports_and_erases_its_own_data(legacy_user):
    me = Api(token_for(legacy_user))

    summary = me.get("/api/v1/me/data")
    assert summary.status_code == 200
    assert summary.json()["user_id"] == "a/b"
    export = me.get("/api/v1/me/data/export")
    assert export.status_code == 200
    assert b'"main"' in b"".join(export.streaming_content)
    erased = me.delete(f"/api/v1/me/data?extension={APP}")
    assert erased.status_code == 200
    assert not Document.objects.exists()


def test_a_legacy_account_calls_no_tool(legacy_user):
    me = Api(token_for(legacy_user))
    answer = me.post(f"/api/v1/extensions/{APP}/tools/whoami/call", {"params": {}})
    assert answer.status_code == 400
    assert "a user id is a string of 1-128" in answer.json()["error"]["message"]
    assert list(Document.objects.values_list("user_id", flat=True)) == ["a/b"]
    assert not Notification.objects.exists()


def test_a_legacy_account_still_logs_in(legacy_user):
    legacy_user.set_password("a-long-passphrase-1")
    legacy_user.is_staff = True
    legacy_user.save(update_fields=["password", "is_staff"])
    client = Client()

    answer = client.post(
        "/admin/login/?next=/admin/",
        {"username": "legacy", "password": "a-long-passphrase-1", "next": "/admin/"},
    )

    assert answer.status_code == 302, answer.content[:300]
    assert client.session["_auth_user_id"] == str(legacy_user.pk)
    legacy_user.refresh_from_db()
    assert legacy_user.last_login is not None  # saved alongside the odd id
