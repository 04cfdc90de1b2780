"""A hostile extension run isolated reaches none of the platform by abnormal means that
the runtime itself closes: no platform module, no credential, no way past ctx.db's own
face (the platform runs its statements), and ctx.http only through the egress guard.

What only the sandbox (apps/runtime/sandbox.py, tests/sandbox: its own uid, no read
access to var/, a network namespace) closes — reading the platform's files, sockets to PostgreSQL or
Redis — is not claimed here."""

import json

import pytest
from asgiref.sync import async_to_sync

from apps.extensions.invocation import prepare_tool
from tests.compat.server import LiveServer

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
        "imperal_platform.settings",
    ):
        assert found[module] == "refused: ModuleNotFoundError", found
    assert found["db"] == "refused: AttributeError"  # ctx.db.backend
    # ctx.http is served through the egress guard: loopback is refused, by rule.
    assert found["http"].startswith("refused: WorkerEgressRefused"), found["http"]
    assert "loopback" in found["http"] and "127.0.0.1" in found["http"]
    assert found["django_settings"] == "refused: ImproperlyConfigured"
    assert found["platform_modules"] == []
    assert not {"SECRET_KEY", "DATABASE_URL", "REDIS_URL"} & set(found["environ"])
    assert not [name for name in found["environ"] if name.startswith("IMPERAL_")]
