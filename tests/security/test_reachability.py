"""Nothing a handler reaches from its ctx by public names is a platform internal.

Each kind of handler of tests.security.walker (tool, panel, schedule, webhook,
skeleton refresh, on_install) runs through the kernel as it would in production and walks
everything its ctx reaches (tests.security.reachability) against the one
allow-list, apps.extensions.reachable, on each ctx.db backend.
"""

import datetime
from collections import Counter

import pytest
from asgiref.sync import async_to_sync

from apps.accounts.identity import user_context_for_id
from apps.accounts.partition import Partition
from apps.db import core
from apps.db.face import DbFace
from apps.extensions.context import PlatformContext
from apps.extensions.installation import ensure_installed
from apps.extensions.invocation import prepare_panel, prepare_tool
from apps.extensions.reachable import OBJECT_TYPES
from apps.extensions.registry import get_registry
from apps.extensions.skeleton import refresh_section
from apps.extensions.sync import sync_extensions
from apps.extensions.webhooks import serve_webhook
from apps.scheduler.fire import fire_now
from apps.store.face import StoreFace
from apps.store.models import Document
from tests.ai.fake_openai import FakeOpenAI
from tests.security import walker

pytestmark = pytest.mark.django_db(transaction=True)

APP = "walker"
# What each kind of ctx holds, beyond what every ctx holds.
EVERY_CTX = {
    "apps.extensions.context.PlatformContext",
    "apps.accounts.identity.PlatformUserContext",
    "imperal_sdk.types.identity.TenantContext",
    "imperal_sdk.config.client.ConfigClient",
    "imperal_sdk.context.TimeContext",
    "imperal_sdk.context._SkeletonAccessGuard",
    "apps.store.face.StoreFace",
    "imperal_sdk.types.models.Document",
    "imperal_sdk.types.pagination.Page",
    "apps.cache.face.CacheFace",
    "tests.security.walker.WalkNote",
    "apps.db.face.DbFace",
    "apps.db.face.DbScope",
    "apps.db.face.DbConnection",
    "apps.db.result.Result",
    "apps.extensions.unserved.UnservedSurface",
}
NOTIFY = "apps.notifications.face.NotifyFace"
EXPECTED = {
    "tool": {NOTIFY},
    "panel": {NOTIFY},
    "skeleton": {NOTIFY},
    "install": {NOTIFY},
    # list_users yields scoped ids, each the user's context with its own notify
    "schedule": {"apps.extensions.context.ScopedUserId", NOTIFY},
    "webhook": {"apps.extensions.context.RecipientlessNotify", NOTIFY},
}


def _tool():
    async_to_sync(prepare_tool(APP, "walk", "alice").run)()


def _panel():
    async_to_sync(prepare_panel(APP, "walk", "alice").run)()


def _schedule():
    run = fire_now(APP, "walk", local=True)
    assert run.status == "success", run.error


def _webhook():
    response = serve_webhook(APP, "walk", "POST", {}, lambda: b"", {})
    assert response.status == 200, response.body


def _skeleton():
    loaded = get_registry().get(APP)
    spec = loaded.skeleton_sections()["walk"]
    partition = Partition("default", APP, "alice")
    now = datetime.datetime.now(datetime.UTC)
    async_to_sync(refresh_section)(loaded, spec, partition, lambda: now)


def _install():
    loaded = get_registry().get(APP)
    run = async_to_sync(ensure_installed)(loaded, user_context_for_id("charlie"))
    assert run.status == "success", run.error


RUN = {
    "tool": _tool,
    "panel": _panel,
    "schedule": _schedule,
    "webhook": _webhook,
    "skeleton": _skeleton,
    "install": _install,
}


@pytest.fixture
def fake_provider(settings):
    """ctx.ai served by a fake OpenAI-compatible provider on loopback."""
    fake = FakeOpenAI()
    settings.LLM_PROVIDER = "openai_compatible"
    settings.LLM_BASE_URL = fake.base_url
    settings.LLM_MODEL = "walk-model"
    settings.IMPERAL_AI_MAX_RETRIES = 0
    yield fake
    fake.stop()


@pytest.fixture
def walking(ctx_db, use_extensions, alice, bob, charlie, fake_provider):
    """Load the walker, with documents, a ctx.db row and a cache note for alice and bob."""
    use_extensions("tests.security.walker")
    sync_extensions()
    walker.REPORTS.clear()
    for user in ("alice", "bob"):
        async_to_sync(prepare_tool(APP, "seed", user).run)()
    return ctx_db


def walked(kind):
    """Run the ``kind`` handler through the kernel; return its walk's report."""
    RUN[kind]()
    return walker.REPORTS[kind]


@pytest.mark.parametrize("kind", sorted(RUN))
def test_nothing_reachable_from_a_handlers_ctx_is_a_platform_internal(walking, kind):
    report = walked(kind)

    assert report["findings"] == [], "\n".join(report["findings"])
    assert report["uncovered"] == []
    assert report["cut"] == []
    assert EVERY_CTX | EXPECTED[kind] <= set(report["reached"])


def test_every_object_type_of_the_allow_list_is_reached_by_some_walk(walking):
    reached = set()
    for kind in RUN:
        reached |= set(walked(kind)["reached"])

    assert set(OBJECT_TYPES) - reached == set()


def made_by_walks():
    """Return {(app_id, user_id): documents the walks created}."""
    made = Document.objects.filter(data__title="made by the walk")
    return Counter(made.values_list("app_id", "user_id"))


def test_the_walk_writes_only_where_the_context_it_walks_may_write(walking):
    before = made_by_walks()  # the seed's on_install walks, one per user

    walked("tool")  # alice's context: as_user and for_user are refused
    after_tool = made_by_walks()
    assert after_tool - before == Counter({(APP, "alice"): 1})
    assert not Document.objects.filter(doc_id="doomed", user_id="alice").exists()
    assert Document.objects.filter(doc_id="doomed", user_id="bob").exists()

    walked("schedule")  # the system context, and the users it scopes
    assert set(made_by_walks() - after_tool) == {
        (APP, "__system__"),
        (APP, "alice"),
        (APP, "bob"),
    }


# A platform internal made reachable on purpose: the walk must name its path.
LEAKS = {
    "the ctx.db backend": (
        DbFace,
        "backend",
        lambda face: core.get_backend(),
        "ctx.db.backend: apps.db.backends.",
    ),
    "the Document manager": (
        StoreFace,
        "documents",
        lambda face: Document.objects,
        "ctx.store.documents: django.db.models.manager.Manager",
    ),
    "the extension registry": (
        PlatformContext,
        "registry",
        lambda ctx: get_registry(),
        "ctx.registry: apps.extensions.registry.Registry",
    ),
}


@pytest.mark.parametrize("leak", sorted(LEAKS))
def test_the_walk_names_the_path_to_a_platform_internal_made_reachable(
    walking, monkeypatch, leak
):
    cls, name, getter, finding = LEAKS[leak]
    monkeypatch.setattr(cls, name, property(getter), raising=False)

    report = walked("tool")

    assert any(found.startswith(finding) for found in report["findings"]), report[
        "findings"
    ]
