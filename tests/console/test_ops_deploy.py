"""`manage.py check --deploy` with production settings from the environment: clean."""

import os
import secrets
import subprocess
import sys

import pytest
from django.conf import settings

pytestmark = pytest.mark.slow

PRODUCTION = {
    "DEBUG": "0",
    "ALLOWED_HOSTS": "platform.example.com",
    "SECURE_SSL_REDIRECT": "1",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "1",
    "SECURE_HSTS_PRELOAD": "1",
    "SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO",
}


def _check_deploy(tmp_path, **env):
    full = {
        **os.environ,
        "IMPERAL_VAR_DIR": str(tmp_path / "var"),
        "SECRET_KEY": secrets.token_urlsafe(50),
        **env,
    }
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=settings.BASE_DIR,
        env=full,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_passes_with_production_settings(tmp_path):
    done = _check_deploy(tmp_path, **PRODUCTION)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout


def test_check_deploy_names_what_is_missing_without_them(tmp_path):
    # The same command fails, naming the settings, when HTTPS is left off:
    # the passing test above is not a check that cannot fail.
    done = _check_deploy(tmp_path, DEBUG="0", ALLOWED_HOSTS="platform.example.com")
    assert done.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "W016"):
        assert warning in done.stderr + done.stdout
