"""Fixtures of the store's tests: contexts of the three users in two extensions, the
face on every database and connection it can run on, and helpers that snapshot
what is stored."""

import os

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings as django_settings
from django.db import DEFAULT_DB_ALIAS
from hypothesis import HealthCheck, Phase, settings

from apps.accounts.identity import PlatformUserContext, system_user_context
from apps.accounts.partition import Partition
from apps.extensions.context import SURFACE_FACTORIES, build_context
from apps.store import pool
from apps.store.connections import DjangoConnection
from apps.store.core import DocumentStore, Operations
from apps.store.face import StoreFace
from apps.store.models import AuditEntry, Document
from tests.conftest import STORE_SQLITE_ALIAS
from tests.fixtures.extensions import store_apps

# Each example runs real queries, so shrinking a failure can take many minutes;
# a failure is reported unshrunk (with its @reproduce_failure blob) unless
# IMPERAL_HYPOTHESIS_SHRINK=1 asks for the minimal example.
_PHASES = [Phase.explicit, Phase.reuse, Phase.generate, Phase.target]
if os.environ.get("IMPERAL_HYPOTHESIS_SHRINK") == "1":
    _PHASES.append(Phase.shrink)
_COMMON = {
    "max_examples": 200,
    "deadline": None,
    "phases": _PHASES,
    "suppress_health_check": [
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
    ],
}
settings.register_profile("ci", derandomize=True, **_COMMON)
settings.register_profile("dev", **_COMMON)
settings.load_profile("ci" if os.environ.get("CI") == "true" else "dev")

APPS = {ext.app_id: ext for ext in (store_apps.notes, store_apps.crm)}
STORE_APPS_ENTRY = store_apps.__name__


@pytest.fixture(scope="session", autouse=True)
def _close_store_pools(django_db_setup):
    """The async pools' connections must be gone before the test database is dropped."""
    yield
    pool.close_all()


# The "sqlite" mode's database: a PostgreSQL run's second alias, else the default.
SQLITE_ALIAS = STORE_SQLITE_ALIAS if django_settings.IS_POSTGRES else DEFAULT_DB_ALIAS
FACE_MODES = [
    pytest.param(
        "sqlite",
        marks=pytest.mark.django_db(databases=sorted({DEFAULT_DB_ALIAS, SQLITE_ALIAS})),
    ),
    pytest.param(
        "postgresql-caller", marks=[pytest.mark.postgres, pytest.mark.django_db]
    ),
    pytest.param(
        "postgresql-pool",
        marks=[pytest.mark.postgres, pytest.mark.django_db(transaction=True)],
    ),
]


@pytest.fixture(params=FACE_MODES)
def face_mode(request, settings, monkeypatch):
    """Run the test with the async face on SQLite, on PostgreSQL through the
    caller's connection (inside the test transaction), and on PostgreSQL's
    async pool with its own connections (committed for real, the database
    flushed afterwards). Yields the mode's name."""
    if request.param == "postgresql-pool":
        settings.IMPERAL_STORE_ASYNC_POOL = 4
        yield request.param
        pool.close_all()  # before the database is flushed
        return
    if request.param == "sqlite" and SQLITE_ALIAS != DEFAULT_DB_ALIAS:
        monkeypatch.setitem(SURFACE_FACTORIES, "store", f"{__name__}.SQLiteAliasFace")
        settings.DATABASE_ROUTERS = [StoreModelsOn(SQLITE_ALIAS)]
        yield request.param
        default = Document.objects.using(DEFAULT_DB_ALIAS)
        assert not default.exists(), "a sqlite-mode test wrote to PostgreSQL"
        return
    yield request.param


class SQLiteAliasFace(StoreFace):
    """The store face on SQLITE_ALIAS: StoreFace itself, on another Django database."""

    _alias = SQLITE_ALIAS


class StoreModelsOn:
    """A database router sending the store's models to one alias, so a test's ORM
    checks (Document, AuditEntry, stored_state) read the database it wrote to."""

    def __init__(self, alias):
        self.alias = alias

    def db_for_read(self, model, **hints):
        """Return the alias for the store's models, None (no opinion) otherwise."""
        return self.alias if model._meta.app_label == "store" else None

    db_for_write = db_for_read


class SyncStore:
    """A ctx.store called from a sync test: each call runs through async_to_sync."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.face = ctx.store

    def __getattr__(self, name):
        return async_to_sync(getattr(self.face, name))

    def list_users(self, collection, **kwargs):
        async def collect():
            return [uid async for uid in self.face.list_users(collection, **kwargs)]

        return async_to_sync(collect)()


def user_ctx(app_id, user_id, tenant_id="default"):
    """Return the kernel context of ``user_id`` in one of the test extensions."""
    user = PlatformUserContext(
        imperal_id=user_id, email="", tenant_id=tenant_id, role="user"
    )
    return build_context(APPS[app_id], user)


def system_ctx(app_id, tenant_id="default"):
    return build_context(APPS[app_id], system_user_context(tenant_id))


@pytest.fixture
def store_of(face_mode):
    """Return a function (app_id, user_id) -> SyncStore of that user's ctx.store."""
    return lambda app_id, user_id, **kw: SyncStore(user_ctx(app_id, user_id, **kw))


@pytest.fixture
def system_store(face_mode):
    return lambda app_id, **kw: SyncStore(system_ctx(app_id, **kw))


@pytest.fixture
def core(db):
    """The synchronous core on the test's connection."""
    return DocumentStore(DjangoConnection())


def partition(app_id="notes", user_id="alice", tenant_id="default"):
    return Partition(tenant_id, app_id, user_id)


def stored_state():
    """Every document and audit row, to prove an operation changed nothing."""
    documents = list(
        Document.objects.order_by("id").values_list(
            "tenant_id", "app_id", "user_id", "collection", "doc_id", "data", "etag"
        )
    )
    audit = list(AuditEntry.objects.order_by("id").values_list("op", "doc_id", "etag"))
    return documents, audit


@pytest.fixture
def ticking_clock(monkeypatch):
    """Make every write of the store one millisecond later than the previous one."""
    import datetime
    import itertools

    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    ticks = itertools.count()
    monkeypatch.setattr(
        Operations,
        "clock",
        staticmethod(lambda: start + datetime.timedelta(milliseconds=next(ticks))),
    )
