"""The platform's own PostgreSQL role needs no superuser: what README asks is enough."""

import asyncio

import psycopg
import pytest
from django.db import connection
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from apps.db import naming
from apps.db.core import load_backend
from apps.db.face import DbFace

from .conftest import backend_options

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def platform_url(tmp_path):
    """A database owned by a NOSUPERUSER CREATEROLE role; return its URL."""
    suffix = naming.digest(connection.settings_dict["NAME"], "platform-role")
    role, database = f"imperal_test_platform_{suffix}", f"imperal_test_owned_{suffix}"
    admin = conninfo_to_dict(
        load_backend(backend_options("postgresql", tmp_path)).server_conninfo()
    )
    with psycopg.connect(make_conninfo(**admin), autocommit=True) as conn:
        conn.execute(
            sql.SQL(
                "CREATE ROLE {} LOGIN PASSWORD 'platform' NOSUPERUSER CREATEROLE"
            ).format(sql.Identifier(role))
        )
        conn.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(database), sql.Identifier(role)
            )
        )
    yield make_conninfo(
        **{**admin, "user": role, "password": "platform", "dbname": database}
    )
    with psycopg.connect(make_conninfo(**admin), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(database)
            )
        )
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def test_provision_use_migrate_and_drop_without_a_superuser(platform_url, tmp_path):
    backend = load_backend(
        {**backend_options("postgresql", tmp_path), "URL": platform_url}
    )
    db = DbFace("owned-app", backend=backend)

    async def use():
        async with db.acquire() as conn:
            await conn.execute("CREATE TABLE notes (v TEXT)")
            await conn.execute("SELECT set_config('app.uid', 'alice', false)")
            await conn.execute("INSERT INTO notes VALUES ('a')")
            return (await conn.execute("SELECT count(*) FROM notes")).scalar()

    try:
        assert asyncio.run(use()) == 1
        with backend.migration_lock("owned-app"):
            backend.run_script("owned-app", "CREATE TABLE more (v TEXT);")
        assert backend.deprovision_all() == ["owned-app"]
    finally:
        backend.close()
    with psycopg.connect(platform_url) as conn:
        left = conn.execute(
            "SELECT count(*) FROM pg_roles WHERE rolname = %s",
            [backend.role("owned-app")],
        ).fetchone()
        schemas = conn.execute(
            "SELECT count(*) FROM pg_namespace WHERE nspname = %s",
            [backend.schema("owned-app")],
        ).fetchone()
    assert left == schemas == (0,)
