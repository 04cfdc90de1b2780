"""On PostgreSQL the database itself keeps an extension inside its own schema."""

import logging

import pytest
from django.db import connection

from apps.accounts.models import User
from apps.db.core import get_backend
from apps.db.errors import DbPermissionError
from apps.db.face import DbFace

from .conftest import execute, run

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def platform_relations(kinds):
    """Every platform relation of the given pg_class kinds, schema-qualified.

    Platform tables are whatever the ORM sees (introspection), so tables of
    apps merged later (the store's documents) are covered without a change.
    """
    names = set(connection.introspection.table_names())
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT n.nspname, c.relname, c.relkind FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind = ANY(%s) AND n.nspname NOT LIKE 'ext\\_%%' "
            "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
            "AND n.nspname NOT LIKE 'pg\\_%%'",
            [list(kinds)],
        )
        rows = cursor.fetchall()
    relations = [f'"{schema}"."{name}"' for schema, name, _ in rows]
    if "r" in kinds:
        assert {name for _, name, kind in rows if kind == "r"} >= names
    return relations


def snapshot():
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM django_migrations")
        migrations = cursor.fetchone()[0]
    return (
        sorted(connection.introspection.table_names()),
        migrations,
        list(User.objects.values_list("imperal_id", flat=True)),
    )


@pytest.fixture
def mine():
    return DbFace("my-app")


def refused(face, sql):
    with pytest.raises(DbPermissionError) as caught:
        run(execute, face, sql)
    return caught.value


def test_platform_tables_cannot_be_read_written_or_dropped(mine, alice):
    before = snapshot()
    tables = platform_relations("rp")
    for table in ("accounts_user", "extensions_extension", "django_migrations"):
        assert f'"public"."{table}"' in tables
    for table in tables:
        error = refused(mine, f"SELECT * FROM {table} LIMIT 1")
        assert error.sqlstate == "42501", table
        refused(mine, f"DELETE FROM {table}")
        refused(mine, f"DROP TABLE {table}")
    assert snapshot() == before
    assert before[2] == ["alice"]


def test_platform_sequences_are_out_of_reach(mine):
    sequences = platform_relations("S")
    assert sequences, "expected the platform's identity sequences"
    for sequence in sequences:
        refused(mine, f"SELECT nextval('{sequence}')")


def test_unqualified_names_do_not_find_platform_tables(mine):
    from apps.db.errors import DbProgrammingError

    with pytest.raises(DbProgrammingError, match="does not exist"):
        run(execute, mine, "SELECT * FROM accounts_user")


def test_another_extensions_schema_is_out_of_reach(mine):
    other = DbFace("other-app")
    run(execute, other, "CREATE TABLE secrets (v TEXT)")
    run(execute, other, "INSERT INTO secrets VALUES ('theirs')")
    schema = get_backend().schema("other-app")
    refused(mine, f"SELECT * FROM {schema}.secrets")
    refused(mine, f"INSERT INTO {schema}.secrets VALUES ('mine')")
    refused(mine, f"CREATE TABLE {schema}.planted (v TEXT)")
    assert run(execute, other, "SELECT v FROM secrets").all() == [{"v": "theirs"}]


@pytest.mark.parametrize(
    "sql",
    [
        "SET ROLE postgres",
        "RESET ROLE",
        "SET SESSION AUTHORIZATION postgres",
        "SELECT set_config('role', 'postgres', false)",
        "DO $$ BEGIN EXECUTE 'SET ROLE postgres'; END $$",
        "DO $$ BEGIN EXECUTE 'SET SESSION AUTHORIZATION postgres'; END $$",
        "CREATE SCHEMA planted",
        "CREATE ROLE planted",
        "ALTER ROLE CURRENT_USER SUPERUSER",
        "GRANT pg_read_all_data TO CURRENT_USER",
    ],
)
def test_it_cannot_change_identity_or_grow_its_rights(mine, sql):
    refused(mine, sql)
    role = get_backend().role("my-app")
    identity = run(execute, mine, "SELECT current_user AS c, session_user AS s")
    assert dict(identity.first()) == {"c": role, "s": role}


def test_reset_role_done_by_the_database_stays_the_extension(mine):
    """RESET ROLE returns to the session user, which is the extension's login role."""
    role = get_backend().role("my-app")

    async def reset_then_look():
        async with mine.session() as session:
            await session.execute("DO $$ BEGIN EXECUTE 'RESET ROLE'; END $$")
            who = await session.execute("SELECT current_user AS c, session_user AS s")
            return dict(who.first())

    assert run(reset_then_look) == {"c": role, "s": role}
    refused(mine, "SELECT * FROM public.accounts_user")


def test_the_role_has_no_attribute_membership_or_stray_privilege(mine):
    backend = get_backend()
    run(execute, mine, "SELECT 1")
    role = backend.role("my-app")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolreplication, "
            "rolbypassrls, rolcanlogin, rolpassword LIKE 'SCRAM-SHA-256$%%' "
            "FROM pg_authid WHERE rolname = %s",
            [role],
        )
        assert cursor.fetchone() == (False,) * 6 + (True, True)
        cursor.execute(
            "SELECT COUNT(*) FROM pg_auth_members WHERE member = %s::regrole", [role]
        )
        assert cursor.fetchone() == (0,)
        cursor.execute(
            "SELECT has_database_privilege(%s, current_database(), 'CREATE')", [role]
        )
        assert cursor.fetchone() == (False,)
    shown = run(execute, mine, "SHOW search_path").scalar()
    assert shown == backend.schema("my-app")


def test_the_schema_belongs_to_the_platform_and_tables_to_the_extension(mine):
    run(execute, mine, "CREATE TABLE owned (v TEXT)")
    backend = get_backend()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = %s",
            [backend.schema("my-app")],
        )
        assert cursor.fetchone()[0] != backend.role("my-app")
        cursor.execute(
            "SELECT tableowner FROM pg_tables WHERE schemaname = %s",
            [backend.schema("my-app")],
        )
        assert cursor.fetchall() == [(backend.role("my-app"),)]
    refused(mine, f"DROP SCHEMA {backend.schema('my-app')} CASCADE")


def test_the_role_password_never_reaches_a_log(mine, caplog):
    caplog.set_level(logging.DEBUG)
    backend = get_backend()
    backend.deprovision("my-app")
    run(execute, mine, "SELECT 1")
    backend.provision("my-app")
    password = backend._password(backend.role("my-app"))
    assert password and password not in caplog.text
    assert "provisioned role" in caplog.text


def test_provisioning_refuses_a_platform_table_granted_to_public(mine):
    backend = get_backend()
    with connection.cursor() as cursor:
        cursor.execute("GRANT SELECT ON public.auth_group TO PUBLIC")
    try:
        with pytest.raises(DbPermissionError, match="public.auth_group"):
            backend.provision("my-app")
    finally:
        with connection.cursor() as cursor:
            cursor.execute("REVOKE SELECT ON public.auth_group FROM PUBLIC")
    backend.provision("my-app")
