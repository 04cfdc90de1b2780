"""Fixtures shared by every test: the three users, backends, extension registries."""

import asyncio
import os

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings as django_settings
from django.db import connections
from django.test import TransactionTestCase

from apps.extensions.registry import get_registry, reset_registry
from apps.gateway.lookups import extension_disabled, tenant_of
from apps.quotas import limits as quota_limits
from tests.flush import Flusher

REQUIRE_SERVICES = os.environ.get("IMPERAL_TEST_REQUIRE_SERVICES") == "1"
# On a PostgreSQL run, a second database on SQLite: the store's contract suite
# runs on both engines in one run (tests/store/conftest.py). Only tests that
# name it in django_db(databases=[...]) get it created.
STORE_SQLITE_ALIAS = "store_sqlite"
# Where test extensions (loaded from tests/, not the bundled extensions/) run:
# in-process unless the run asks otherwise; tests/runtime sets "isolated"
# per test. Servers and workers a test starts inherit it.
TEST_EXTENSION_RUNTIME = os.environ.get("IMPERAL_TEST_EXTENSION_RUNTIME", "in-process")


def pytest_configure(config):
    if django_settings.IS_POSTGRES:
        _add_sqlite_database(STORE_SQLITE_ALIAS)
    _export_socket_rule(config)
    django_settings.IMPERAL_EXTENSION_RUNTIME_DEFAULT = TEST_EXTENSION_RUNTIME
    os.environ["IMPERAL_EXTENSION_RUNTIME_DEFAULT"] = TEST_EXTENSION_RUNTIME


def _export_socket_rule(config):
    """Give every process a test starts this run's loopback-only socket rule.

    pytest-socket guards this process (pyproject's --allow-hosts); settings.py
    installs the same guard in a child that has IMPERAL_TEST_ALLOW_HOSTS.
    """
    hosts = config.getoption("--allow-hosts")
    if not hosts:
        raise pytest.UsageError(
            "run the suite with pytest-socket's --allow-hosts (pyproject addopts): "
            "no test may send traffic off this machine"
        )
    os.environ["IMPERAL_TEST_ALLOW_HOSTS"] = hosts


def _add_sqlite_database(alias):
    """Add DATABASES[alias]: a SQLite file under IMPERAL_VAR_DIR, set up as
    settings.py sets up the embedded default (WAL, IMMEDIATE transactions)."""
    var_dir = django_settings.VAR_DIR
    databases = django_settings.DATABASES
    databases[alias] = {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(var_dir / f"{alias}.sqlite3"),
        "OPTIONS": {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        },
        "TEST": {"NAME": str(var_dir / f"test_{alias}.sqlite3")},
    }
    # Fill in Django's defaults for the new entry (it is the dict connections read).
    connections.configure_settings(databases)


def pytest_report_header(config):
    db = django_settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    if STORE_SQLITE_ALIAS in django_settings.DATABASES:
        db += f" (+ sqlite as {STORE_SQLITE_ALIAS!r} for tests/store)"
    cache = "redis" if django_settings.REDIS_URL else "embedded"
    return f"imperal-platform backends: database={db} cache={cache}"


def pytest_collection_modifyitems(config, items):
    """Skip service-bound tests on the embedded pass; refuse to skip them when required.

    Tests marked ``embedded_default`` run the embedded default whatever the pass
    (a subprocess without the services' variables): the services' pass skips
    them, since the embedded pass runs the very same thing.
    """
    missing = {
        "postgres": not django_settings.IS_POSTGRES,
        "redis": not django_settings.REDIS_URL,
    }
    services_pass = django_settings.IS_POSTGRES or bool(django_settings.REDIS_URL)
    for item in items:
        if "embedded_default" in item.keywords and services_pass:
            item.add_marker(
                pytest.mark.skip(
                    reason="runs the embedded default; the embedded pass runs it"
                )
            )
        for marker, is_missing in missing.items():
            if marker in item.keywords and is_missing:
                if REQUIRE_SERVICES:
                    raise pytest.UsageError(
                        f"{item.nodeid} needs {marker}, which this run was told to use"
                    )
                item.add_marker(
                    pytest.mark.skip(reason=f"needs {marker}; embedded pass")
                )


@pytest.fixture(scope="session", autouse=True)
def _drop_extension_databases(django_db_setup, django_db_blocker):
    """ctx.db roles are cluster-wide: drop the ones this run's database got."""
    yield
    from apps.db.core import close_pools, get_backend

    with django_db_blocker.unblock():
        get_backend().deprovision_all()
        close_pools()


@pytest.fixture(scope="session", autouse=True)
def _close_asgiref_thread_connections(django_db_setup):
    """Close the connections of asgiref's process-wide thread before the test
    databases are dropped: tests that drive an async core with asyncio.run (outside
    any async_to_sync) run its sync_to_async calls there, and a connection left
    open keeps PostgreSQL from dropping the database."""
    yield
    asyncio.run(sync_to_async(connections.close_all)())


@pytest.fixture(scope="session", autouse=True)
def _flush_without_post_migrate():
    """Flush after each transactional test through tests/flush.py, which puts
    back what post_migrate wrote instead of sending it again."""
    original = TransactionTestCase._fixture_teardown
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            TransactionTestCase,
            "_fixture_teardown",
            Flusher().fixture_teardown(original),
        )
        yield


@pytest.fixture(autouse=True, scope="session")
def _store_on_the_test_thread():
    """Run ctx.store on the test's own connection, inside the test's transaction.

    On PostgreSQL the store's async face otherwise uses its own async
    connections; tests/store covers that path and opts back in.
    """
    django_settings.IMPERAL_STORE_ASYNC_POOL = 0


@pytest.fixture(autouse=True)
def _fresh_registry():
    reset_registry()
    yield
    reset_registry()


@pytest.fixture(autouse=True)
def _fresh_quota_limits():
    """Forget the admin's limit rows this process read: a test's rolled-back rows
    would otherwise stay in force here for LimitTable.refresh_seconds."""
    quota_limits.forget()
    yield
    quota_limits.forget()


@pytest.fixture(autouse=True)
def _fresh_gateway_lookups():
    """Forget the gateway's remembered lookups: a rolled-back row (a disabled
    extension, a user's tenant) sends no signal that would forget it."""
    extension_disabled.forget()
    tenant_of.forget()
    yield
    extension_disabled.forget()
    tenant_of.forget()


@pytest.fixture
def use_extensions(settings):
    """Return a function that makes the given IMPERAL_EXTENSIONS entries the registry."""

    def use(*entries):
        settings.IMPERAL_EXTENSIONS = list(entries)
        reset_registry()
        return get_registry()

    return use


def _make_user(imperal_id, **fields):
    from apps.accounts.models import User

    return User.objects.create(
        username=imperal_id,
        imperal_id=imperal_id,
        email=f"{imperal_id}@example.com",
        **fields,
    )


@pytest.fixture
def alice(db):
    """The owner."""
    return _make_user("alice")


@pytest.fixture
def bob(db):
    """The collaborator."""
    return _make_user("bob")


@pytest.fixture
def charlie(db):
    """The outsider."""
    return _make_user("charlie")
