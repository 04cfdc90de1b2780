"""Browser tests: the production server (scripts/serve.sh) on the test database,
driven by Debian's chromium through Playwright's sync API.

Fixtures:
- ``server``: one live server for the package (tests/compat's LiveServer), serving
  the bundled extensions plus ``E2E_EXTENSIONS`` with collected static files.
- ``browser``: one headless chromium for the package.
- ``new_page(java_script_enabled=True)``: a page in a fresh context (no cookies).
- ``operator``: a staff superuser; ``operator_page``: a page logged in as it.
- ``login(page, user)``: log a page in through the admin's login form.
- ``screenshot(page, name)``: save a full-page PNG under ``$IMPERAL_SCREENSHOT_DIR``
  (default ``var/screenshots/``); returns the path.

The server and the test share the database, so browser tests use
``pytest.mark.django_db(transaction=True)``: what a test writes is committed
before the server reads it.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import expect, sync_playwright

from tests.compat.server import LiveServer

CHROMIUM = "/usr/bin/chromium"
# The bundled extensions (settings' default), the fixture schedules' probe and a
# webhook that answers pages with script.
E2E_EXTENSIONS = (
    "extensions/my_app",
    "extensions.contacts",
    "extensions/web_tools",
    "tests.fixtures.extensions.probe",
    "tests.fixtures.extensions.hostile_webhook",
)
OPERATOR_PASSWORD = "e2e-operator-pass-1"
# Generous bounds for a loaded 2-core machine; Playwright waits only as long as needed.
ACTION_TIMEOUT_MS = 30_000
EXPECT_TIMEOUT_MS = 20_000


def screenshot_dir():
    """Return the folder screenshots go to: $IMPERAL_SCREENSHOT_DIR, else var/screenshots."""
    folder = os.environ.get("IMPERAL_SCREENSHOT_DIR") or (
        Path(settings.BASE_DIR) / "var" / "screenshots"
    )
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def save_screenshot(page, name):
    """Save a full-page PNG of ``page`` as ``<name>.png``; return its path."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "page"
    path = screenshot_dir() / f"{safe}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def _collect_static(env):
    """Collect static files into the server's STATIC_ROOT (the admin's CSS and JS)."""
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=settings.BASE_DIR,
        env=env,
        check=True,
        timeout=300,
    )


@pytest.fixture(scope="package")
def server(django_db_setup, django_db_blocker, tmp_path_factory):
    """The production server on the test database, for every browser test."""
    live = LiveServer(
        tmp_path_factory.mktemp("e2e-server"),
        extensions=",".join(E2E_EXTENSIONS),
        # The test process allows the ORM beside Playwright's loop; the server must not.
        env={"DJANGO_ALLOW_ASYNC_UNSAFE": ""},
    )
    _collect_static(live.env)
    live.start()
    yield live
    live.stop()


@pytest.fixture(scope="package")
def browser(server):
    """One headless chromium for the package.

    Playwright's sync API keeps an asyncio loop running on this thread while it
    lives, which Django's async-safety check would take for an async context:
    the ORM is allowed here (tests are synchronous code) only while it lives.
    The server fixture comes first, so the server never inherits the switch.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "1")
        expect.set_options(timeout=EXPECT_TIMEOUT_MS)
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True
            )
            yield chromium
            chromium.close()


@pytest.fixture
def new_page(browser, server):
    """Return a function opening a page in a fresh browser context on the server."""
    contexts = []

    def open_page(java_script_enabled=True):
        context = browser.new_context(
            base_url=server.url,
            java_script_enabled=java_script_enabled,
            viewport={"width": 1280, "height": 900},
        )
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def login():
    """Return a function logging ``page`` in as ``user`` through the admin login form."""

    def log_in(page, user, password=OPERATOR_PASSWORD, expect_path="/admin/"):
        page.goto("/admin/login/?next=/admin/")
        page.fill("#id_username", user.get_username())
        page.fill("#id_password", password)
        page.click("input[type=submit]")
        page.wait_for_load_state()
        if expect_path is not None:
            expect(page).to_have_url(re.compile(re.escape(expect_path) + r"$"))
        return page

    return log_in


def make_staff(username, *, superuser=False, permissions=()):
    """Create and return a staff user with ``OPERATOR_PASSWORD`` and ``permissions``
    ("app_label.codename")."""
    from django.contrib.auth.models import Permission

    from apps.accounts.models import User

    user = User(
        username=username,
        imperal_id=username,
        email=f"{username}@example.com",
        is_staff=True,
        is_superuser=superuser,
    )
    user.set_password(OPERATOR_PASSWORD)
    user.save()
    for name in permissions:
        app_label, codename = name.split(".", 1)
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return user


@pytest.fixture
def operator(transactional_db):
    """A staff superuser, the operator of the console."""
    return make_staff("operator", superuser=True)


@pytest.fixture
def operator_page(new_page, login, operator):
    """A page logged in as ``operator``, on the admin index."""
    return login(new_page(), operator)


@pytest.fixture
def screenshot():
    """Return :func:`save_screenshot` (save a full-page PNG; return its path)."""
    return save_screenshot
