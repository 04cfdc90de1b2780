"""Nothing a handler reaches from its ctx in an isolated worker is a platform internal
or a credential other than its call token.

The walker of tests/security/test_reachability.py runs isolated, unchanged: each
kind of handler (tool, panel, schedule, webhook, skeleton refresh, on_install)
runs in a real worker of the production server (scripts/serve.sh, its
supervisor, the sandbox), walks its worker-built ctx against the worker's
allow-list (apps.runtime.worker.reachable.WORKER) and leaves its report in the
extension's HOME. Every string the walk reached is checked here against the
platform's credentials: SECRET_KEY, the database and Redis addresses, the
extension's runtime token and a service token of its own.
"""

import datetime
import json
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings as django_settings
from django.test import override_settings

from apps.accounts.identity import user_context_for_id
from apps.accounts.models import User
from apps.accounts.partition import Partition
from apps.extensions.installation import ensure_installed
from apps.extensions.invocation import prepare_panel, prepare_tool
from apps.extensions.registry import get_registry, reset_registry
from apps.extensions.skeleton import refresh_section
from apps.extensions.sync import sync_extensions
from apps.extensions.webhooks import serve_webhook
from apps.gateway.tokens import issue_token
from apps.runtime.credentials import runtime_token
from apps.runtime.hostfs import worker_home
from apps.runtime.worker.reachable import WORKER
from apps.scheduler.fire import fire_now
from tests.compat.server import LiveServer
from tests.scheduler.worker import database_url
from tests.security import walker

# Each test reads the module's walks; the flush after the first removes their data.
pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

APP = "walker"
ENTRY = "tests.security.walker"
EVERY_CTX = {
    "apps.runtime.worker.context.WorkerContext",
    "apps.runtime.worker.context.WorkerUser",
    "apps.runtime.worker.context.CallTokenStoreClient",
    "apps.runtime.worker.context.NotServedInWorker",
    "apps.runtime.worker.http.GatewayHTTPClient",
    "imperal_sdk.types.identity.TenantContext",
    "imperal_sdk.config.client.ConfigClient",
    "imperal_sdk.context.TimeContext",
    "imperal_sdk.context._SkeletonAccessGuard",
    "imperal_sdk.types.models.Document",
    "imperal_sdk.types.pagination.Page",
    "imperal_sdk.cache.client.CacheClient",
    "apps.runtime.worker.fanout.LedgerNotifyClient",
    "apps.runtime.worker.clients.CallTokenSecretClient",
    "apps.runtime.worker.db.WorkerDb",
    "apps.runtime.worker.db.DbScope",
    "apps.runtime.worker.db.DbConnection",
    "apps.runtime.worker.db.Result",
    "tests.security.walker.WalkNote",
}
EXPECTED = {
    "tool": set(),
    "panel": set(),
    "skeleton": set(),
    "install": set(),
    "schedule": {"apps.runtime.worker.context.ScopedUserId"},
    "webhook": set(),
}


@pytest.fixture(scope="module")
def sandbox_root(tmp_path_factory):
    return tmp_path_factory.mktemp("walker-sandbox")


@pytest.fixture(scope="module")
def walker_server(django_db_setup, django_db_blocker, tmp_path_factory, sandbox_root):
    """The production server with the walker isolated: two workers, since a
    skeleton section read from a worker refreshes the section in another."""
    live = LiveServer(
        tmp_path_factory.mktemp("walker"),
        extensions=ENTRY,
        env={
            "IMPERAL_EXTENSION_RUNTIME": json.dumps({APP: "isolated"}),
            "IMPERAL_SANDBOX_ROOT": str(sandbox_root),
            "IMPERAL_RUNTIME_POOL_SIZE": "2",
            "IMPERAL_RUNTIME_CLAIM_WAIT": "1",
        },
    )
    live.start()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def reports(walker_server, sandbox_root, django_db_blocker):
    """Run every kind of handler of the walker in its worker once; return
    ({kind: the report it left}, the credentials to look for in them).

    The walks run before the module's first test, on data of their own (alice's
    and bob's documents and secrets); that test's flush removes it.
    """
    overrides = override_settings(
        IMPERAL_EXTENSIONS=[ENTRY],
        IMPERAL_EXTENSION_RUNTIME={APP: "isolated"},
        IMPERAL_HANDLER_TIMEOUTS={APP: 60},
    )
    with django_db_blocker.unblock(), overrides:
        reset_registry()
        for user in ("alice", "bob", "charlie"):
            User.objects.create(username=user, imperal_id=user)
        sync_extensions()
        for user in ("alice", "bob"):
            async_to_sync(prepare_tool(APP, "seed", user).run)()
        directory = Path(worker_home(sandbox_root, APP)) / walker.REPORT_DIR
        walks = {kind: walked(directory, kind) for kind in RUN}
        secrets = credentials()
    reset_registry()
    return walks, secrets


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
    row = async_to_sync(refresh_section)(loaded, spec, partition, lambda: now)
    assert row is not None and not row.error, row and row.error


def _install():
    loaded = get_registry().get(APP)
    run = async_to_sync(ensure_installed)(loaded, user_context_for_id("charlie"))
    assert run.status == "success", run.error


RUN = {
    "tool": lambda: async_to_sync(prepare_tool(APP, "walk", "alice").run)(),
    "panel": lambda: async_to_sync(prepare_panel(APP, "walk", "alice").run)(),
    "schedule": _schedule,
    "webhook": _webhook,
    "skeleton": _skeleton,
    "install": _install,
    "leaky": lambda: async_to_sync(prepare_tool(APP, "walk_leaky", "alice").run)(),
}


def walked(reports, kind):
    """Run the ``kind`` handler in the worker; return the report it left."""
    report_file = reports / f"{kind}.json"
    report_file.unlink(missing_ok=True)
    RUN[kind]()
    return json.loads(report_file.read_text())


def credentials():
    """Return {name: value} of what no worker may reach besides its call token."""
    found = {
        "SECRET_KEY": django_settings.SECRET_KEY,
        "the database URL": database_url(),
        "the runtime token": runtime_token(APP),
        "another extension's runtime token": runtime_token("attacker"),
        "a service token of the extension": issue_token(APP).raw,
    }
    if django_settings.REDIS_URL:
        found["the Redis URL"] = django_settings.REDIS_URL
    return found


def credentials_in(report, secrets):
    """Return the names of ``secrets`` some string of ``report`` holds."""
    return sorted(
        name
        for name, value in secrets.items()
        if any(value in text for text in report["texts"])
    )


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_nothing_reachable_from_a_workers_ctx_is_a_platform_internal(reports, kind):
    walks, secrets = reports
    report = walks[kind]

    assert report["findings"] == [], "\n".join(report["findings"])
    assert report["uncovered"] == []
    assert report["cut"] == []
    assert EVERY_CTX | EXPECTED[kind] <= set(report["reached"])
    assert credentials_in(report, secrets) == []


def test_every_object_type_of_the_workers_allow_list_is_reached_by_some_walk(reports):
    walks, _ = reports
    reached = set()
    for kind in EXPECTED:
        reached |= set(walks[kind]["reached"])

    assert set(WORKER.object_types) - reached == set()


def test_the_walk_names_what_a_worker_holds_beyond_its_allow_list(reports):
    """The runtime token is in the worker's process (its claim client holds it):
    hung on ctx, the walk names the object's path and finds the token's text."""
    walks, secrets = reports
    report = walks["leaky"]

    leak = "ctx.leaked_dispatch: apps.runtime.worker.gateway.GatewayDispatch"
    assert leak in report["findings"]
    assert credentials_in(report, secrets) == ["the runtime token"]
