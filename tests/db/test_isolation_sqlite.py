"""On SQLite an extension's connection reaches its own file and nothing else."""

import pytest
from django.conf import settings

from apps.db.core import load_backend
from apps.db.errors import DbPermissionError
from apps.db.face import DbFace

from .conftest import backend_options, execute, run


@pytest.fixture
def sqlite(tmp_path):
    backend = load_backend(backend_options("sqlite", tmp_path))
    yield backend
    backend.close()


def refused(face, sql):
    with pytest.raises(DbPermissionError, match="not authorized"):
        run(execute, face, sql)


def test_attaching_the_platform_database_is_denied(sqlite, tmp_path):
    mine = DbFace("my-app", backend=sqlite)
    platform_file = settings.VAR_DIR / "platform.sqlite3"
    refused(mine, f"ATTACH DATABASE '{platform_file}' AS platform")
    refused(mine, "ATTACH DATABASE ':memory:' AS scratch")
    databases = run(execute, mine, "PRAGMA database_list")
    assert [row["name"] for row in databases] == ["main"]


def test_another_extensions_file_cannot_be_attached_or_named(sqlite):
    other = DbFace("other-app", backend=sqlite)
    run(execute, other, "CREATE TABLE secrets (v TEXT)")
    mine = DbFace("my-app", backend=sqlite)
    refused(mine, f"ATTACH DATABASE '{sqlite.path('other-app')}' AS other")
    from apps.db.errors import DbProgrammingError

    with pytest.raises(DbProgrammingError, match="no such table"):
        run(execute, mine, "SELECT * FROM secrets")


def test_vacuum_into_another_file_is_denied(sqlite, tmp_path):
    mine = DbFace("my-app", backend=sqlite)
    target = tmp_path / "copy.sqlite3"
    with pytest.raises(DbPermissionError):
        run(execute, mine, f"VACUUM INTO '{target}'")
    assert not target.exists()


@pytest.mark.parametrize(
    "sql",
    [
        "PRAGMA writable_schema = ON",
        "PRAGMA temp_store_directory = '/tmp'",
        "SELECT load_extension('/tmp/evil.so')",
    ],
)
def test_escapes_through_pragmas_and_extensions_are_denied(sqlite, sql):
    refused(DbFace("my-app", backend=sqlite), sql)


def test_migrations_run_under_the_same_guard(sqlite):
    from apps.db.errors import DbError

    with pytest.raises(DbError, match="not authorized"):
        sqlite.run_script("my-app", "ATTACH DATABASE ':memory:' AS x;")
