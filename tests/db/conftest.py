"""ctx.db fixtures: a backend per test, every extension area dropped afterwards."""

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings

from apps.db import core
from apps.db.face import DbFace


def run(coroutine_function, *args, **kwargs):
    """Run an async function from a sync test and return its result."""
    return async_to_sync(coroutine_function)(*args, **kwargs)


def backend_options(name, tmp_path):
    return {
        **settings.IMPERAL_DB,
        "BACKEND": f"apps.db.backends.{name}",
        "URL": "",
        "SQLITE_DIR": tmp_path / "extdb",
    }


@pytest.fixture(autouse=True)
def _drop_extension_areas(db):
    yield
    core.get_backend().deprovision_all()
    core.close_pools()


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.postgres),
    ]
)
def backend(request, tmp_path):
    """Each ctx.db backend in turn; SQLite runs on every pass, PostgreSQL on its own."""
    if request.param == "postgresql" and not settings.IS_POSTGRES:
        pytest.skip("needs postgres; embedded pass")
    backend = core.load_backend(backend_options(request.param, tmp_path))
    yield backend
    backend.deprovision_all()
    backend.close()


@pytest.fixture
def face(backend):
    """Return a function giving the ctx.db face of an app_id on ``backend``."""

    def make(app_id="probe-db"):
        return DbFace(app_id, backend=backend)

    return make


async def execute(face, sql, params=None):
    """Run one statement on an autocommit connection; return its Result."""
    async with face.acquire() as conn:
        return await conn.execute(sql, params)
