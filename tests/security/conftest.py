"""Fixtures of the attack tests: the ctx.db backend every handler's ctx.db runs on."""

import pytest
from django.conf import settings as django_settings

from apps.db import core
from tests.db.conftest import backend_options


def _ctx_db_on(name, settings, tmp_path):
    if name == "postgresql" and not django_settings.IS_POSTGRES:
        pytest.skip("needs postgres; embedded pass")
    settings.IMPERAL_DB = backend_options(name, tmp_path)
    yield core.get_backend()
    core.get_backend().deprovision_all()
    core.close_pools()


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.postgres),
    ]
)
def ctx_db(request, settings, tmp_path):
    """Run every ctx.db of the test on each backend in turn (PostgreSQL on its pass).

    Returns the process's backend; every extension area it got is dropped after.
    """
    yield from _ctx_db_on(request.param, settings, tmp_path)


@pytest.fixture
def postgres_ctx_db(settings, tmp_path):
    """Run every ctx.db of the test on PostgreSQL; return the backend."""
    yield from _ctx_db_on("postgresql", settings, tmp_path)
