"""The sandbox's settings and its statement of what is in force: validated by name,
never degraded silently."""

import json
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured

from apps.runtime.host import HostSupport
from apps.runtime.hostfs import CHECKOUT, stage_worker_code
from apps.runtime.sandbox import (
    MINIMAL,
    Sandbox,
    SandboxUnavailable,
    check_distinct_ids,
    extension_env,
    host_confinements,
    plan,
    worker_ids,
)
from apps.runtime.sandbox_settings import AUTO

from .conftest import HOSTILE_DIR, run_child

NOT_ROOT = HostSupport(linux=True, root=False, tools={})


@pytest.mark.parametrize(
    "value, named",
    [
        ("{not json", "IMPERAL_EXTENSION_ENV is not JSON"),
        ('["a"]', "must be a JSON object of app id -> variables"),
        ('{"app": ["A=1"]}', "IMPERAL_EXTENSION_ENV['app'] must be an object"),
        ('{"app": {"1BAD": "x"}}', "variable name '1BAD' breaks the rule"),
        ('{"app": {"IMPERAL_WORKER_TOKEN": "x"}}', "'IMPERAL_WORKER_TOKEN' is set by"),
        ('{"app": {"PATH": "/opt"}}', "'PATH' is set by the sandbox"),
        ('{"app": {"HTTPS_PROXY": "http://evil"}}', "'HTTPS_PROXY' is set by"),
        ('{"app": {"PORT": 8000}}', "['PORT'] must be a string"),
    ],
)
def test_a_bad_extension_env_is_refused_by_name(settings, value, named):
    settings.IMPERAL_EXTENSION_ENV = value
    with pytest.raises(ImproperlyConfigured) as error:
        extension_env("app")
    assert named in str(error.value)


def test_an_extension_gets_its_own_variables_only(settings):
    settings.IMPERAL_EXTENSION_ENV = json.dumps(
        {"notes": {"NOTES_API_URL": "https://n"}, "other": {"KEY": "k"}}
    )
    assert extension_env("notes") == {"NOTES_API_URL": "https://n"}
    assert extension_env("unknown") == {}


@pytest.mark.parametrize(
    "key, value",
    [("MODE", "lenient"), ("MEMORY_BYTES", 0), ("CPU_SECONDS", "1"), ("UID_BASE", 0)],
)
def test_a_bad_sandbox_setting_is_refused_by_name(settings, key, value):
    settings.IMPERAL_SANDBOX = {**settings.IMPERAL_SANDBOX, key: value}
    with pytest.raises(ImproperlyConfigured, match=rf"IMPERAL_SANDBOX\['{key}'\]"):
        host_confinements()


def test_worker_ids_are_derived_stable_and_in_the_range(settings):
    base, span = 1_200_000_000, 1 << 20
    settings.IMPERAL_SANDBOX = {
        **settings.IMPERAL_SANDBOX,
        "UID_BASE": base,
        "UID_SPAN": span,
    }
    uid, gid = worker_ids("notes")
    assert uid == gid and base <= uid < base + span
    assert worker_ids("notes") == (uid, gid)
    assert worker_ids("contacts")[0] != uid
    check_distinct_ids(["notes", "contacts", "bookmarks"])


def test_two_extensions_on_one_uid_are_refused(settings):
    settings.IMPERAL_SANDBOX = {**settings.IMPERAL_SANDBOX, "UID_SPAN": 1}
    with pytest.raises(ImproperlyConfigured, match="'a' and 'b' derive the same"):
        check_distinct_ids(["a", "b"])


def test_a_host_without_root_states_what_is_not_in_force():
    statements = {c.name: (c.in_force, c.detail) for c in plan(NOT_ROOT, "auto")}
    assert statements["environment"][0] and statements["limits"][0]
    for name in ("user", "files", "network"):
        in_force, detail = statements[name]
        assert not in_force
        assert "not root" in detail
    assert "RLIMIT_NPROC" not in statements["limits"][1]


@pytest.mark.django_db
def test_strict_mode_refuses_to_start_what_the_host_cannot_confine(settings, app_id):
    settings.IMPERAL_SANDBOX = {**settings.IMPERAL_SANDBOX, "MODE": "strict"}
    sandbox = Sandbox(app_id, HOSTILE_DIR, "http://127.0.0.1:9", support=NOT_ROOT)
    with pytest.raises(SandboxUnavailable, match="without user"):
        sandbox.open()


@pytest.mark.django_db
def test_a_worker_gets_only_imperal_worker_variables_from_its_spawner(app_id, settings):
    settings.IMPERAL_SANDBOX = {**settings.IMPERAL_SANDBOX, "MODE": AUTO}  # not root
    with Sandbox(app_id, HOSTILE_DIR, "http://127.0.0.1:9", support=NOT_ROOT) as box:
        with pytest.raises(ValueError, match="got 'SECRET_KEY'"):
            box.launch([sys.executable], {"SECRET_KEY": "x"})


@pytest.mark.django_db(transaction=True)
def test_minimal_mode_says_so_and_its_statement_is_true(settings, app_id, gateway):
    """What minimal mode says it leaves open is open: the statement is not decoration."""
    settings.IMPERAL_SANDBOX = {**settings.IMPERAL_SANDBOX, "MODE": MINIMAL}
    settings.IMPERAL_EXTENSION_ENV = json.dumps({app_id: {"NOTES_API_URL": "n"}})
    with Sandbox(app_id, HOSTILE_DIR, gateway.url("")) as box:
        report = {c.name: c for c in box.confinements()}
        assert not report["files"].in_force
        assert "MODE'] is minimal" in report["files"].detail
        checks = ["environ", "read_settings_file", "import_apps"]
        checkout = str(django_settings.BASE_DIR)
        _, results = run_child(box, checks, checkout=checkout)
    # Still its own environment and no platform package on its path…
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
    }
    assert not results["import_apps"]["ok"]
    # …but the platform's files, as the statement says, are not hidden.
    assert results["read_settings_file"]["ok"]


def test_the_worker_package_is_staged_alone_once_per_content(tmp_path):
    first = stage_worker_code(tmp_path, ("apps.runtime.host",))
    assert stage_worker_code(tmp_path, ("apps.runtime.host",)) == first
    staged = sorted(
        str(path.relative_to(first))
        for path in Path(first).rglob("*")
        if path.is_file()
    )
    assert staged == [
        "apps/__init__.py",
        "apps/runtime/__init__.py",
        "apps/runtime/host.py",
    ]
    assert (Path(first) / "apps" / "__init__.py").read_text() == ""
    host = Path(first) / "apps" / "runtime" / "host.py"
    assert host.read_text() == (CHECKOUT / "apps" / "runtime" / "host.py").read_text()
    assert host.stat().st_mode & 0o777 == 0o644
    other = stage_worker_code(tmp_path, ("apps.runtime.host", "apps.runtime.netns"))
    assert other != first and Path(first).is_dir()


def test_a_network_namespace_without_hidden_files_says_unix_sockets_stay_open():
    tools = {"ip": "/usr/sbin/ip", "nsenter": "/usr/bin/nsenter", "setpriv": "/x"}
    no_unshare = HostSupport(linux=True, root=True, tools=tools)
    statements = {c.name: c for c in plan(no_unshare, "auto")}
    assert statements["network"].in_force and not statements["files"].in_force
    assert "unix sockets" in statements["network"].detail
    assert "unshare" in statements["files"].detail
