"""imperal-platform's pytest plugin for extension authors.

Enable it in the extension's root ``conftest.py`` with
``pytest_plugins = ["imperal_platform.testing"]`` (the platform directory on
``pythonpath``; see docs/testing.md). Each test asking for the ``imperal``
fixture gets a :class:`Harness` on the platform's test database: real
contexts, tool, chat function and panel calls, schedule fires and a clock.
Runs on the embedded default, or on PostgreSQL and Redis when
``DATABASE_URL`` / ``REDIS_URL`` say so.
"""

import inspect
import os
import uuid

import pytest

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imperal_platform.settings")

from .clock import CacheClock, TestClock  # noqa: E402
from .harness import (  # noqa: E402
    ExtensionLoadFailed,
    Harness,
    InvalidParams,
    SecretMissing,
)

__all__ = [
    "CacheClock",
    "ExtensionLoadFailed",
    "Harness",
    "InvalidParams",
    "SecretMissing",
    "TestClock",
    "imperal",
]

INI_EXTENSIONS = "imperal_extensions"


def pytest_addoption(parser):
    parser.addini(
        INI_EXTENSIONS,
        type="linelist",
        help="extension entries the imperal fixture loads before each test "
        "(directories relative to the rootdir, or module paths)",
    )


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "asyncio: an async test (imperal-sdk's scaffold marks its tests so); "
        "imperal_platform.testing runs async tests itself",
    )


def pytest_report_header(config):
    from django.conf import settings

    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    cache = settings.IMPERAL_CACHE["BACKEND"].rsplit(".", 1)[-1]
    return f"imperal_platform.testing: database={engine} cache={cache}"


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    """Run an ``async def`` test to completion, unless an asyncio plugin does."""
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    if pyfuncitem.config.pluginmanager.hasplugin("asyncio"):
        return None
    from asgiref.sync import async_to_sync

    names = pyfuncitem._fixtureinfo.argnames
    async_to_sync(pyfuncitem.obj)(**{name: pyfuncitem.funcargs[name] for name in names})
    return True


@pytest.fixture
def imperal(request, transactional_db, settings):
    """Return this test's Harness; every table and ctx.db area is clean afterwards.

    The database is the real one (committed writes, as the platform makes
    them: security events are written by their own connection), emptied after
    the test. ctx.cache entries live under a key prefix of this test alone,
    ctx.storage's files in a folder of its own.
    """
    from apps.cache.core import get_core
    from apps.db.core import close_pools, get_backend
    from apps.egress.records import recorder

    settings.IMPERAL_STORE_ASYNC_POOL = 0
    settings.IMPERAL_CACHE = {
        **settings.IMPERAL_CACHE,
        "KEY_PREFIX": f"{settings.IMPERAL_CACHE['KEY_PREFIX']}:t{uuid.uuid4().hex[:12]}",
    }
    # ctx.storage's files land in a folder of this test alone.
    files = request.getfixturevalue("tmp_path") / "extfiles"
    files.mkdir()
    settings.STORAGES = {
        **settings.STORAGES,
        "extfiles": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(files)},
        },
    }
    clock = TestClock()
    core = get_core()
    cache_clock = CacheClock(core, clock) if core is not None else None
    harness = Harness(settings, clock, cache_clock)
    entries = _configured_entries(request.config)
    if entries:
        harness.load(*entries)
    yield harness
    recorder.flush()  # this test's ctx.http records land before its tables empty
    get_backend().deprovision_all()
    close_pools()


def _configured_entries(config):
    try:
        configured = config.getini(INI_EXTENSIONS)
    except ValueError:  # the plugin's fixture imported without its hooks
        return []
    entries = []
    for entry in configured:
        path = config.rootpath / entry
        entries.append(str(path.resolve()) if path.is_dir() else entry)
    return entries
