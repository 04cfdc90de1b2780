"""Fixtures of the sandbox tests: a stand-in gateway and upstream on loopback, a
registered extension, and a hostile child started through the sandbox."""

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from imperal_sdk import Extension

from apps.extensions.registry import get_registry
from apps.runtime.host import host_support
from tests.egress.upstream import Upstream

HOSTILE_DIR = Path(__file__).resolve().parent / "hostile"
CHILD = HOSTILE_DIR / "child.py"
CHILD_TIMEOUT_SECONDS = 60

_support = host_support()
# Each reason is the host's own answer; this machine and CI run as root with
# util-linux and iproute2, so these run there.
needs_user = pytest.mark.skipif(
    not _support.can_switch_user, reason=f"needs root: {_support.user_blocker}"
)
needs_files = pytest.mark.skipif(
    not _support.can_hide_files, reason=f"needs root: {_support.files_blocker}"
)
needs_network = pytest.mark.skipif(
    not _support.can_isolate_network,
    reason=f"needs network namespaces: {_support.net_blocker}",
)


@pytest.fixture(autouse=True)
def _sandbox_root(settings, tmp_path):
    """Workers' homes and staged code under this test's own directory."""
    settings.IMPERAL_SANDBOX = {**settings.IMPERAL_SANDBOX, "ROOT": str(tmp_path)}


@pytest.fixture
def gateway():
    """A stand-in for the platform's gateway: an HTTP server on 127.0.0.1."""
    server = Upstream()
    yield server
    server.stop()


@pytest.fixture
def upstream():
    """A destination on 127.0.0.1 an extension may be allowed to reach."""
    server = Upstream()
    yield server
    server.stop()


@pytest.fixture
def app_id():
    """A loaded extension of this test alone (security events name loaded ones)."""
    app_id = f"sandboxed-{uuid.uuid4().hex[:10]}"
    get_registry().add("tests.sandbox", Extension(app_id, description="hostile"))
    return app_id


@pytest.fixture
def var_secret(settings):
    """A platform file in var/, as secret as SECRET_KEY's: return its path."""
    path = Path(settings.VAR_DIR) / f"platform-secret-{uuid.uuid4().hex[:8]}"
    path.write_text("the platform's secret")
    yield path
    path.unlink()


def run_child(sandbox, checks, timeout=CHILD_TIMEOUT_SECONDS, **spec):
    """Start the hostile child through ``sandbox``; return (process, its results)."""
    spec = {"checks": list(checks), **spec}
    launch = sandbox.launch(
        [sys.executable, str(CHILD), json.dumps(spec)],
        {"IMPERAL_WORKER_APP": sandbox.app_id, "IMPERAL_WORKER_TOKEN": "call-me"},
    )
    process = subprocess.run(
        **launch.popen_kwargs(), capture_output=True, text=True, timeout=timeout
    )
    assert process.returncode == 0, process.stderr
    return process, json.loads(process.stdout)


def run_program(sandbox, code, timeout=CHILD_TIMEOUT_SECONDS):
    """Start ``python -c code`` through ``sandbox``; return the finished process."""
    launch = sandbox.launch([sys.executable, "-c", code], {})
    return subprocess.run(
        **launch.popen_kwargs(), capture_output=True, text=True, timeout=timeout
    )
