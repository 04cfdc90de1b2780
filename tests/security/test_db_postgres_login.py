"""A password an extension sets through ctx.db opens no door outside the platform.

This machine's shared PostgreSQL trusts local connections (any password logs
in), so these tests start a private cluster of their own that checks passwords
(scram-sha-256) on a spare loopback port, point ctx.db at it, and attack
through the kernel as an extension would. After each call, a login with the
password the extension chose is refused, and the platform keeps working.
"""

import os

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from apps.db.core import close_pools, get_backend
from apps.db.errors import MigrationError
from apps.db.migrator import migrate_extension
from apps.db.models import ExtensionMigration
from tests.reliability.services import HOST, PrivatePostgres, postgres_bin

from .db_calls import ROLE_RULE, call, failed, refused

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

SUPERUSER_PASSWORD = "private-cluster-superuser"
DATABASE = "imperal_ctxdb"
CHOSEN = "chosen-by-the-extension"
HBA = """
local all all trust
host all all 127.0.0.1/32 scram-sha-256
host all all ::1/128 scram-sha-256
"""
SET_PASSWORD = (  # built at run time: no parser sees the ALTER ROLE
    "EXECUTE 'ALTER ROLE CURRENT_USER PASSWORD ' || quote_literal('" + CHOSEN + "')"
)


@pytest.fixture(scope="module")
def cluster():
    """A private PostgreSQL cluster whose TCP logins need the right password."""
    if postgres_bin() is None:
        if os.environ.get("IMPERAL_TEST_REQUIRE_SERVICES") == "1":
            pytest.fail("no PostgreSQL server binaries under /usr/lib/postgresql")
        pytest.skip("no PostgreSQL server binaries under /usr/lib/postgresql")
    pg = PrivatePostgres()
    try:
        pg.init()
        pg.create_database(DATABASE)
        with psycopg.connect(pg.url(), autocommit=True) as conn:
            conn.execute(
                sql.SQL("ALTER ROLE postgres PASSWORD {}").format(
                    sql.Literal(SUPERUSER_PASSWORD)
                )
            )
            (pg.data / "pg_hba.conf").write_text(HBA)
            conn.execute("SELECT pg_reload_conf()")
        yield pg
    finally:
        pg.destroy()


def superuser(pg):
    return psycopg.connect(
        host=HOST,
        port=pg.port,
        dbname=DATABASE,
        user="postgres",
        password=SUPERUSER_PASSWORD,
        autocommit=True,
    )


def logs_in(pg, user, password):
    """Return True when ``user`` logs in with ``password``; False when refused."""
    try:
        conn = psycopg.connect(
            host=HOST, port=pg.port, dbname=DATABASE, user=user, password=password
        )
    except psycopg.OperationalError as exc:
        assert "password authentication failed" in str(exc), exc
        return False
    conn.close()
    return True


@pytest.fixture
def ctx_db(cluster, settings, use_extensions, alice):
    """ctx.db on the private cluster, db-attacker loaded; returns (cluster, role)."""
    url = f"postgres://postgres:{SUPERUSER_PASSWORD}@{HOST}:{cluster.port}/{DATABASE}"
    settings.IMPERAL_DB = {
        **settings.IMPERAL_DB,
        "BACKEND": "apps.db.backends.postgresql",
        "URL": url,
    }
    use_extensions("tests.security.db_attacker")
    call(["CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"])
    call(["INSERT INTO notes VALUES (1, 'kept')"])
    yield cluster, get_backend().role("db-attacker")
    get_backend().deprovision_all()
    close_pools()


def platform_password(app_id="db-attacker"):
    """Return the password the platform logs ``app_id``'s role in with."""
    return conninfo_to_dict(get_backend().extension_conninfo(app_id))["password"]


def still_works():
    return call(["SELECT id, body FROM notes ORDER BY id"]) == [
        {"id": 1, "body": "kept"}
    ]


def test_the_private_cluster_refuses_a_wrong_password(ctx_db):
    pg, role = ctx_db
    assert logs_in(pg, role, platform_password())
    assert not logs_in(pg, role, CHOSEN)


def test_a_password_set_in_sql_text_is_refused_and_changes_nothing(ctx_db):
    pg, role = ctx_db
    with superuser(pg) as conn:
        query = "SELECT rolpassword FROM pg_authid WHERE rolname = %s"
        before = conn.execute(query, [role]).fetchone()
        message = refused([f"ALTER ROLE CURRENT_USER PASSWORD '{CHOSEN}'"])
        assert conn.execute(query, [role]).fetchone() == before
    assert ROLE_RULE in message
    assert not logs_in(pg, role, CHOSEN)
    assert still_works()


@pytest.mark.parametrize(
    ("statements", "mode"),
    [
        ([f"DO $$ BEGIN {SET_PASSWORD}; END $$"], "acquire"),
        ([f"DO $$ BEGIN {SET_PASSWORD}; END $$"], "session"),
        ([f"SELECT 1; DO $$ BEGIN {SET_PASSWORD}; END $$"], "acquire"),
        (
            [
                "CREATE FUNCTION stamp() RETURNS trigger LANGUAGE plpgsql AS "
                f"$$ BEGIN {SET_PASSWORD}; RETURN NEW; END $$",
                "CREATE TRIGGER stamp BEFORE INSERT ON notes "
                "FOR EACH ROW EXECUTE FUNCTION stamp()",
                "INSERT INTO notes VALUES (2, 'stamped')",
                "DELETE FROM notes WHERE id = 2",
            ],
            "acquire",
        ),
        (
            [
                "CREATE PROCEDURE rotate() LANGUAGE plpgsql AS "
                f"$$ BEGIN {SET_PASSWORD}; COMMIT; END $$",
                "CALL rotate()",
            ],
            "acquire",
        ),
        (
            [
                "CREATE FUNCTION quiet() RETURNS int LANGUAGE plpgsql AS "
                f"$$ BEGIN {SET_PASSWORD}; RETURN 1; END $$",
                "CREATE VIEW innocent AS SELECT quiet() AS one",
                "SELECT one FROM innocent",
            ],
            "session",
        ),
    ],
    ids=["do-acquire", "do-session", "two-statements", "trigger", "procedure", "view"],
)
def test_a_password_set_at_run_time_gives_no_login_once_the_call_ends(
    ctx_db, statements, mode
):
    pg, role = ctx_db
    call(statements, mode)  # it got past the parser: SQL built at run time
    assert not logs_in(pg, role, CHOSEN)
    assert logs_in(pg, role, platform_password())
    assert still_works()


@pytest.mark.parametrize(
    "ending",
    [
        "RAISE EXCEPTION 'after the commit'",
        "PERFORM pg_terminate_backend(pg_backend_pid())",
    ],
    ids=["raises", "kills-its-session"],
)
def test_a_password_committed_before_the_statement_fails_gives_no_login(ctx_db, ending):
    pg, role = ctx_db
    error = failed([f"DO $$ BEGIN {SET_PASSWORD}; COMMIT; {ending}; END $$"])
    assert "after the commit" in str(error) or "terminat" in str(error)
    assert not logs_in(pg, role, CHOSEN)
    assert still_works()


def test_a_password_changed_behind_the_platforms_back_is_restored_on_login(ctx_db):
    pg, role = ctx_db
    with superuser(pg) as conn:  # as if a process died before restoring it
        conn.execute(
            sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(CHOSEN)
            )
        )
    assert logs_in(pg, role, CHOSEN)  # the door this test proves closed is real
    close_pools()  # the next call opens a new connection, which logs in
    assert still_works()
    assert not logs_in(pg, role, CHOSEN)


@pytest.fixture
def migrating(ctx_db, tmp_path, use_extensions):
    """Return a function loading extension db-migrating with one migration file."""

    def load(text):
        directory = tmp_path / "migrating"
        (directory / "sql").mkdir(parents=True)
        (directory / "main.py").write_text(
            "from imperal_sdk import Extension\n"
            "ext = Extension('db-migrating', migrations_dir='sql')\n"
        )
        (directory / "sql" / "001_rotate.sql").write_text(text)
        return use_extensions(str(directory)).get("db-migrating")

    return load


def test_a_password_set_by_a_migration_at_run_time_gives_no_login(ctx_db, migrating):
    pg, _ = ctx_db
    loaded = migrating(
        f"CREATE TABLE more (v TEXT);\nDO $$ BEGIN {SET_PASSWORD}; END $$;\n"
    )
    assert migrate_extension(loaded, get_backend()) == ["001_rotate.sql"]
    role = get_backend().role("db-migrating")
    assert not logs_in(pg, role, CHOSEN)
    assert logs_in(pg, role, platform_password("db-migrating"))


def test_a_migration_that_sets_a_password_is_refused_by_name(ctx_db, migrating):
    pg, _ = ctx_db
    loaded = migrating(f"ALTER ROLE CURRENT_USER PASSWORD '{CHOSEN}';\n")
    with pytest.raises(MigrationError) as caught:
        migrate_extension(loaded, get_backend())
    assert "001_rotate.sql" in str(caught.value) and ROLE_RULE in str(caught.value)
    assert not ExtensionMigration.objects.of_extension("db-migrating").exists()
    assert not logs_in(pg, get_backend().role("db-migrating"), CHOSEN)
