"""A hostile extension run in the sandbox gets nothing by abnormal means (issue 25,
Must show 1): each attempt of the stand-in child fails, and what it is owed works."""

import ast
import json
import os
import socket

import pytest
from django.conf import settings as django_settings

from apps.accounts.models import SecurityEvent
from apps.egress.proxy import WORKER_USER
from apps.runtime.sandbox import CONFINEMENTS, Sandbox

from .conftest import HOSTILE_DIR, needs_files, needs_network, needs_user, run_child

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
    needs_user,
    needs_files,
    needs_network,
]
POSTGRES_SOCKET = "/run/postgresql/.s.PGSQL.5432"


@pytest.fixture
def sandbox(app_id, gateway, upstream, settings):
    settings.IMPERAL_EGRESS_ALLOW = json.dumps({app_id: [f"127.0.0.1:{upstream.port}"]})
    settings.IMPERAL_EXTENSION_ENV = json.dumps(
        {
            app_id: {"NOTES_API_URL": "https://notes.example"},
            "another-extension": {"OTHER_API_KEY": "not yours"},
        }
    )
    with Sandbox(app_id, HOSTILE_DIR, gateway.url("")) as box:
        yield box


def refused(results):
    """Return the checks that got through (should be none)."""
    return {name: r["detail"] for name, r in results.items() if r["ok"]}


def test_every_confinement_is_in_force_on_this_host(sandbox):
    assert [(c.name, c.in_force) for c in sandbox.confinements()] == [
        (name, True) for name in CONFINEMENTS
    ]


def test_the_child_cannot_import_the_platform(sandbox):
    checks = [
        "import_apps",
        "import_settings",
        "checkout_on_sys_path",
        "import_apps_from_checkout",
        "read_settings_file",
    ]
    _, results = run_child(sandbox, checks, checkout=str(django_settings.BASE_DIR))
    assert refused(results) == {}
    assert results["import_apps"]["detail"].startswith("ModuleNotFoundError")
    assert results["import_settings"]["detail"].startswith("ModuleNotFoundError")
    assert results["read_settings_file"]["detail"].startswith("FileNotFoundError")
    # What it was denied is there for the platform.
    assert (django_settings.BASE_DIR / "imperal_platform" / "settings.py").is_file()


class StandInWorkerSandbox(Sandbox):
    """Stages a module with no platform imports in place of the worker package."""

    worker_packages = ("apps.runtime.host",)


def test_of_the_platform_only_the_worker_package_is_importable(app_id, gateway):
    checks = ["import_worker_package", "import_runtime_sandbox", "import_apps"]
    with StandInWorkerSandbox(app_id, HOSTILE_DIR, gateway.url("")) as box:
        _, results = run_child(box, checks, worker_package="apps.runtime.host")
        assert results["import_worker_package"]["ok"], results
        assert box.code in results["import_worker_package"]["detail"]
    assert results["import_runtime_sandbox"]["detail"].startswith("ModuleNotFound")
    assert results["import_apps"]["detail"].startswith("ModuleNotFound")


def test_its_environment_is_its_own_variables_and_nothing_else(sandbox):
    assert "DJANGO_SETTINGS_MODULE" in os.environ  # the platform's, not the worker's
    _, results = run_child(sandbox, ["environ"])
    names = set(json.loads(results["environ"]["detail"].replace("'", '"')))
    assert names == {
        "PATH",
        "LANG",
        "HOME",
        "PYTHONPATH",
        "PYTHONDONTWRITEBYTECODE",
        "NOTES_API_URL",
        "IMPERAL_WORKER_APP",
        "IMPERAL_WORKER_TOKEN",
        "IMPERAL_WORKER_GATEWAY",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "http_proxy",
        "https_proxy",
        "NO_PROXY",
        "no_proxy",
    }


def test_it_cannot_see_or_signal_the_platform_process(sandbox):
    checks = ["platform_environ", "platform_cmdline", "signal_platform"]
    _, results = run_child(sandbox, checks, platform_pid=os.getpid())
    assert refused(results) == {}
    assert results["platform_cmdline"]["detail"].startswith("FileNotFoundError")
    # Not EPERM (which says the pid exists): in its PID namespace it does not.
    assert results["signal_platform"]["detail"].startswith("ProcessLookupError")
    assert os.kill(os.getpid(), 0) is None  # the platform's pid, alive


def test_the_only_processes_it_sees_are_its_own_and_its_namespaces_init(sandbox):
    _, results = run_child(sandbox, ["visible_processes"])
    seen = ast.literal_eval(results["visible_processes"]["detail"])
    assert seen["visible"] == sorted({1, seen["own"]})
    assert seen["own"] != 1  # the init runs it: a signal's default action reaches it


def test_it_cannot_read_var_or_write_its_own_code(sandbox, var_secret):
    checks = ["read_var_file", "list_var_dir", "write_extension_dir"]
    _, results = run_child(sandbox, checks, var_file=str(var_secret))
    assert refused(results) == {}
    assert results["write_extension_dir"]["detail"].startswith(
        ("PermissionError", "OSError")
    )
    assert var_secret.read_text() == "the platform's secret"
    assert not (HOSTILE_DIR / "written-by-worker.txt").exists()
    assert os.stat(django_settings.VAR_DIR).st_mode & 0o077 == 0


def test_it_cannot_reach_postgresql_or_redis(sandbox):
    checks = ["postgres_tcp", "redis_tcp", "postgres_socket"]
    _, results = run_child(sandbox, checks, postgres_socket=POSTGRES_SOCKET)
    assert refused(results) == {}
    # The same attempts from the platform get through wherever the service runs.
    if django_settings.IS_POSTGRES:
        socket.create_connection(("127.0.0.1", 5432), timeout=3).close()
        with socket.socket(socket.AF_UNIX) as unix:
            unix.connect(POSTGRES_SOCKET)
    if django_settings.REDIS_URL:
        socket.create_connection(("127.0.0.1", 6379), timeout=3).close()


def test_its_direct_sockets_go_nowhere(sandbox, upstream):
    checks = ["loopback_direct", "outside_direct"]
    _, results = run_child(sandbox, checks, upstream_port=upstream.port)
    assert refused(results) == {}
    assert "Connection refused" in results["loopback_direct"]["detail"]
    assert "Network is unreachable" in results["outside_direct"]["detail"]
    socket.create_connection(("127.0.0.1", upstream.port), timeout=3).close()


def test_it_reaches_the_gateway_through_the_forwarder(sandbox, gateway):
    """Directly, not through the egress proxy (which would refuse loopback)."""
    _, results = run_child(sandbox, ["gateway", "gateway_httpx"])
    assert results["gateway"]["ok"], results
    assert results["gateway_httpx"]["ok"], results
    assert "world" in results["gateway_httpx"]["detail"]
    assert [r["path"] for r in gateway.requests] == ["/json", "/json"]


def test_it_reaches_an_allowed_upstream_through_the_egress_proxy(sandbox, upstream):
    checks = ["egress_allowed", "tunnel_allowed"]
    _, results = run_child(sandbox, checks, upstream_port=upstream.port)
    assert results["egress_allowed"]["ok"], results
    assert "world" in results["egress_allowed"]["detail"]
    assert results["tunnel_allowed"]["detail"] == "'HTTP/1.1 200 OK'"
    assert [r["path"] for r in upstream.requests] == ["/json", "/json"]


def test_a_disallowed_destination_is_refused_with_the_guards_error(sandbox, app_id):
    _, results = run_child(sandbox, ["tunnel_to_postgres", "tunnel_to_metadata"])
    assert refused(results) == {}
    postgres = results["tunnel_to_postgres"]["detail"]
    assert "403 Forbidden" in postgres
    assert "X-Imperal-Egress-Rule: loopback" in postgres
    assert "127.0.0.1 is a loopback address (rule loopback)" in postgres
    assert "IMPERAL_EGRESS_ALLOW" in postgres
    assert "rule link-local" in results["tunnel_to_metadata"]["detail"]
    events = SecurityEvent.objects.filter(kind="egress_refused", app_id=app_id)
    # One row per kind, identity and interval, counting the attempts.
    assert sum(e.count for e in events) == 2
    assert {e.user_id for e in events} == {WORKER_USER}
    assert events.order_by("created_at").first().detail["rule"] == "loopback"
