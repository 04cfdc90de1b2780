"""A hostile extension run isolated reaches none of the platform by abnormal means that
the runtime itself closes: no platform module, no credential (by gc, ctx's private
attributes or /proc/self/environ either), no way past ctx.db's own face (the platform
runs its statements), and ctx.http only through the egress guard.

What only the sandbox (apps/runtime/sandbox.py, tests/sandbox: its own uid, no read
access to var/, a network namespace) closes — reading the platform's files, sockets to PostgreSQL or
Redis — is not claimed here."""

import hashlib
import json
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings as django_settings

from apps.extensions.invocation import prepare_tool
from apps.gateway.tokens import issue_token
from apps.runtime.credentials import runtime_token
from apps.runtime.hostfs import WORKER_PACKAGES
from apps.runtime.sandbox import host_confinements
from apps.store.models import Document
from tests.compat.server import LiveServer
from tests.scheduler.worker import database_url

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
APP = "hostile-dir"
ENTRY = "tests/fixtures/hostile_dir"


@pytest.fixture(scope="module")
def hostile_server(django_db_setup, django_db_blocker, tmp_path_factory):
    live = LiveServer(
        tmp_path_factory.mktemp("hostile"),
        extensions=ENTRY,
        env={"IMPERAL_EXTENSION_RUNTIME": json.dumps({APP: "isolated"})},
    )
    live.start()
    yield live
    live.stop()


def test_an_isolated_directory_extension_reaches_no_platform_module_nor_credential(
    hostile_server, settings, use_extensions, alice
):
    settings.IMPERAL_EXTENSION_RUNTIME = {APP: "isolated"}
    use_extensions(ENTRY)
    found = async_to_sync(prepare_tool(APP, "reach", "alice").run)()
    for module in (
        "apps.store.models",
        "apps.runtime.dispatch",
        "apps.runtime.credentials",
        # The siblings of the rule modules staged beside the worker.
        "apps.notifications.core",
        "apps.common.signing",
        "imperal_platform.settings",
    ):
        assert found[module] == "refused: ModuleNotFoundError", found
    assert found["db"] == "refused: AttributeError"  # ctx.db.backend
    # ctx.http is served through the egress guard: loopback is refused, by rule.
    assert found["http"].startswith("refused: EgressRefused"), found["http"]
    assert "loopback" in found["http"] and "127.0.0.1" in found["http"]
    assert found["django_settings"] == "refused: ImproperlyConfigured"
    assert found["platform_modules"] == staged_beside_the_worker()
    assert not {"SECRET_KEY", "DATABASE_URL", "REDIS_URL"} & set(found["environ"])
    assert not [name for name in found["environ"] if name.startswith("IMPERAL_")]


def staged_beside_the_worker():
    """Return the platform modules a worker holds besides its own package: the
    plain-Python rule modules staged with it (WORKER_PACKAGES), with their parents."""
    names = set()
    for dotted in WORKER_PACKAGES:
        parts = dotted.split(".")
        if parts[:3] != ["apps", "runtime", "worker"]:
            names.update(".".join(parts[:end]) for end in range(2, len(parts) + 1))
    return sorted(names)


def _sha256(text):
    return hashlib.sha256(text.encode()).hexdigest()


def credentials():
    """Return {name: value} of what a worker must not hold, and its own runtime token."""
    found = {
        "SECRET_KEY": django_settings.SECRET_KEY,
        "the database URL": database_url(),
        "the runtime token": runtime_token(APP),
        "another extension's runtime token": runtime_token("another-app"),
        "a service token of the extension": issue_token(APP).raw,
    }
    if django_settings.REDIS_URL:
        found["the Redis URL"] = django_settings.REDIS_URL
    return found


def test_by_introspection_a_worker_finds_no_platform_credential_in_its_process(
    hostile_server, settings, use_extensions, alice
):
    """gc, every private attribute of ctx, /proc/self/environ: of the credentials
    sought, only the extension's own runtime token is in its worker's process (the
    worker claims calls with it; the next test shows what else it opens)."""
    settings.IMPERAL_EXTENSION_RUNTIME = {APP: "isolated"}
    use_extensions(ENTRY)
    sought = {name: _sha256(value) for name, value in credentials().items()}
    sought["the caller's id"] = _sha256("alice")  # in ctx: shows each search finds

    found = async_to_sync(
        prepare_tool(APP, "introspect", "alice", {"sought": sought}).run
    )()

    assert found["in_ctx"] == ["the caller's id"]
    assert found["ctx_modules"] == []
    assert found["in_process"] == ["the caller's id", "the runtime token"]
    assert found["in_proc_self_environ"] == ["the runtime token"]
    assert found["platform_modules_loaded"] == staged_beside_the_worker()
    assert found["django_settings_configured"] is False


def test_a_workers_runtime_token_opens_none_of_the_gateways_surfaces(
    hostile_server, settings, use_extensions, alice, bob
):
    settings.IMPERAL_EXTENSION_RUNTIME = {APP: "isolated"}
    use_extensions(ENTRY)

    answered = async_to_sync(prepare_tool(APP, "use_runtime_token", "alice").run)()

    assert answered == {
        "store as bearer": 401,
        "store as service token": 401,
        "store as call token": 401,
        "http as bearer": 401,
    }
    assert not Document.objects.filter(collection="loot").exists()


@pytest.mark.skipif(
    not all(confinement.in_force for confinement in host_confinements()),
    reason="needs every confinement of the sandbox (root, util-linux, iproute2)",
)
def test_the_real_worker_reaches_none_of_the_platforms_files_processes_or_servers(
    hostile_server, settings, use_extensions, alice, tmp_path
):
    """What tests/sandbox shows of a child started through the sandbox, shown of a
    worker the production server's supervisor started."""
    settings.IMPERAL_EXTENSION_RUNTIME = {APP: "isolated"}
    use_extensions(ENTRY)
    var_file = Path(django_settings.VAR_DIR) / "platform-secret"
    var_file.write_text("the platform's secret")
    params = {
        "var_file": str(var_file),
        "checkout": str(django_settings.BASE_DIR),
        "platform_pid": hostile_server.process.pid,
    }

    try:
        found = async_to_sync(prepare_tool(APP, "reach_host", "alice", params).run)()
    finally:
        secret = var_file.read_text()
        var_file.unlink()

    assert {name for name, end in found.items() if end.startswith("reached")} == set()
    assert found["var file"] == "refused: FileNotFoundError"
    assert found["settings.py"] == "refused: FileNotFoundError"
    assert found["signal platform"] == "refused: ProcessLookupError"
    assert found["postgresql socket"] == "refused: FileNotFoundError"
    assert secret == "the platform's secret"
