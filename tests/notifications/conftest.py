"""Fixtures of the notification tests: a user context on the probe extension."""

import pytest

from apps.accounts.identity import system_user_context, user_context
from apps.extensions.context import build_context


@pytest.fixture
def probe(use_extensions):
    """The probe test extension."""
    return use_extensions("tests.fixtures.extensions.probe").get("probe").ext


@pytest.fixture
def ctx(probe, alice):
    """alice's context in the probe extension."""
    return build_context(probe, user_context(alice))


@pytest.fixture
def system_ctx(probe):
    """The probe extension's system context (what a schedule handler gets)."""
    return build_context(probe, system_user_context())


@pytest.fixture
def mail_dir(settings, tmp_path):
    """Deliver email to files in a fresh directory (the embedded default); return it."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = tmp_path / "mail"
    return settings.EMAIL_FILE_PATH
