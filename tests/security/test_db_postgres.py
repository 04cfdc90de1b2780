"""Attacks on ctx.db's PostgreSQL backend: each is refused, nothing changes.

Timeouts are set to about a second so that each test stays short; the
statements would run for five.
"""

import asyncio
import threading
import time

import psycopg
import pytest
from django.db import connection

from apps.db import naming
from apps.db.core import close_pools, get_backend, load_backend
from apps.db.errors import DbError, DbOperationalError, DbPermissionError, DbTimeout
from apps.db.face import DbFace
from apps.db.migrator import migrate_extension
from apps.db.models import ExtensionMigration
from tests.db.conftest import backend_options, execute, run

from .db_calls import ROLE_RULE, call, failed, refused

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

SLEEP = "SELECT pg_sleep(5)"


@pytest.fixture
def postgres(tmp_path):
    backends = []

    def make(**options):
        backends.append(
            load_backend({**backend_options("postgresql", tmp_path), **options})
        )
        return backends[-1]

    yield make
    for backend in backends:
        backend.deprovision_all()
        backend.close()


def notes_on(backend):
    """Return the attacker's ctx.db on ``backend``, with one stored note."""
    db = DbFace("attacker", backend=backend)
    run(execute, db, "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    run(execute, db, "INSERT INTO notes VALUES (1, 'kept')")
    return db


@pytest.fixture
def notes(postgres):
    return notes_on(postgres(STATEMENT_TIMEOUT=1))


def stored(db):
    return run(execute, db, "SELECT id, body FROM notes ORDER BY id").all()


def stopped(db, statements, limit="STATEMENT_TIMEOUT", within=4.0):
    """Run ``statements`` in one session; assert ``limit`` stopped it in time."""

    async def session():
        async with db.session() as s:
            await s.execute("INSERT INTO notes VALUES (2, 'rolled back')")
            for sql in statements:
                await s.execute(sql)

    started = time.monotonic()
    with pytest.raises(DbTimeout) as caught:
        run(session)
    assert time.monotonic() - started < within
    assert caught.value.limit == limit
    assert f"IMPERAL_DB[{limit!r}]" in str(caught.value)
    assert stored(db) == [{"id": 1, "body": "kept"}]
    return caught.value


def test_a_long_statement_is_stopped_by_statement_timeout(notes):
    error = stopped(notes, [SLEEP])
    assert (error.sqlstate, error.seconds, error.app_id) == ("57014", 1.0, "attacker")
    assert "IMPERAL_DB['EXTENSION_OPTIONS']['attacker']" in str(error)
    assert run(execute, notes, "SELECT 1 AS one").scalar() == 1


@pytest.mark.parametrize(
    "statements",
    [
        ["SET statement_timeout = 0", SLEEP],
        ["SET LOCAL statement_timeout = 0", SLEEP],
        ["SELECT set_config('statement_timeout', '0', false)", SLEEP],
        ["SET statement_timeout = 0; SELECT pg_sleep(5)"],
        [
            "DO $$ BEGIN PERFORM set_config('statement_timeout', '0', false); END $$",
            SLEEP,
        ],
    ],
)
def test_lifting_statement_timeout_does_not_escape_it(notes, statements):
    stopped(notes, statements)


# Built at run time, so no parser sees it: the platform notices and restores.
ALTER_ROLE_AT_RUN_TIME = (
    "DO $$ BEGIN EXECUTE 'ALTER ROLE CURRENT_USER SET ' || {setting!r}; END $$"
)


def role_settings(role):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT s.setdatabase <> 0, unnest(s.setconfig) "
            "FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole "
            "WHERE r.rolname = %s ORDER BY 1, 2",
            [role],
        )
        return cursor.fetchall()


@pytest.mark.parametrize("autocommit", [True, False], ids=["acquire", "session"])
def test_altering_its_role_at_run_time_is_undone_and_lifts_no_timeout(
    postgres, autocommit
):
    backend = postgres(STATEMENT_TIMEOUT=1)
    db = DbFace("attacker", backend=backend)
    role = backend.provision("attacker")
    before = role_settings(role)
    assert before == [(True, f"search_path={backend.schema('attacker')}")]
    leaves_state(
        db,
        autocommit,
        [
            ALTER_ROLE_AT_RUN_TIME.format(setting="statement_timeout = 0"),
            ALTER_ROLE_AT_RUN_TIME.format(setting="search_path = public"),
        ],
    )
    assert role_settings(role) == before  # restored before the call returned
    backend.close()  # the next connection is a new session, with the role's defaults
    row = run(
        execute,
        db,
        "SELECT current_setting('statement_timeout') AS t, current_schema() AS s",
    ).first()
    assert row == {"t": "1s", "s": backend.schema("attacker")}
    with pytest.raises(DbTimeout):
        run(execute, db, SLEEP)


def test_a_lock_wait_is_stopped_by_lock_timeout(postgres):
    notes = notes_on(postgres(STATEMENT_TIMEOUT=5, LOCK_TIMEOUT=1))

    async def hold_and_wait():
        async with notes.session() as holder:
            await holder.execute("LOCK TABLE notes IN ACCESS EXCLUSIVE MODE")
            async with notes.acquire() as other:
                await other.execute("UPDATE notes SET body = 'taken'")

    started = time.monotonic()
    with pytest.raises(DbTimeout) as caught:
        run(hold_and_wait)
    assert time.monotonic() - started < 4
    assert (caught.value.limit, caught.value.sqlstate) == ("LOCK_TIMEOUT", "55P03")
    assert stored(notes) == [{"id": 1, "body": "kept"}]


def test_an_idle_transaction_is_ended_by_its_timeout(postgres):
    db = DbFace("attacker", backend=postgres(IDLE_IN_TRANSACTION_TIMEOUT=0.5))
    run(execute, db, "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")

    async def write_then_idle():
        async with db.session() as session:
            await session.execute("INSERT INTO notes VALUES (1, 'never committed')")
            await asyncio.sleep(1.5)  # holding the row lock, doing nothing
            await session.execute("SELECT 1")

    with pytest.raises(DbTimeout) as caught:
        run(write_then_idle)
    assert caught.value.limit == "IDLE_IN_TRANSACTION_TIMEOUT"
    assert run(execute, db, "SELECT count(*) FROM notes").scalar() == 0


def test_timeouts_are_per_extension(postgres):
    backend = postgres(
        STATEMENT_TIMEOUT=30,
        EXTENSION_OPTIONS={"attacker": {"STATEMENT_TIMEOUT": 1}},
    )
    with pytest.raises(DbTimeout, match="STATEMENT_TIMEOUT = 1 s"):
        run(execute, DbFace("attacker", backend=backend), SLEEP)
    patient = DbFace("patient", backend=backend)
    shown = run(execute, patient, "SHOW statement_timeout").scalar()
    assert shown == "30s"


# --- pooled connections: nothing of one call reaches the next -------------------

LEAVE_STATE = [
    "SELECT set_config('app.uid', 'alice', false)",
    "SET work_mem = '7MB'",
    "SET statement_timeout = 0",
    "CREATE TEMP TABLE scratch AS SELECT 'alice' AS owner",
    "PREPARE alices AS SELECT 'alice' AS owner",
    "SELECT pg_advisory_lock(4242)",
    "DECLARE kept CURSOR WITH HOLD FOR SELECT 'alice'",
    # LISTEN and large objects are refused; built at run time they get through.
    "DO $$ BEGIN EXECUTE 'LISTEN ' || 'alice_channel'; END $$",
    "DO $$ BEGIN EXECUTE 'SELECT lo_' || 'from_bytea(0, ''alice'')'; END $$",
    "CREATE SEQUENCE ids",
    "SELECT nextval('ids')",
]
LOOK = """
SELECT pg_backend_pid() AS pid,
       current_setting('app.uid', true) AS uid,
       current_setting('work_mem') AS work_mem,
       current_setting('statement_timeout') AS statement_timeout,
       current_schema() AS schema,
       to_regclass('pg_temp.scratch') IS NULL AS no_temp,
       (SELECT count(*) FROM pg_prepared_statements WHERE from_sql) AS prepared,
       (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'
          AND pid = pg_backend_pid()) AS advisory,
       (SELECT count(*) FROM pg_cursors WHERE name <> '') AS cursors,
       (SELECT count(*) FROM pg_listening_channels()) AS channels,
       (SELECT count(*) FROM pg_largeobject_metadata m
          JOIN pg_roles r ON r.oid = m.lomowner
          WHERE r.rolname = current_user) AS large_objects
"""


def leaves_state(db, autocommit, statements=LEAVE_STATE):
    """Alice's call leaves session state behind; return her backend's pid."""

    async def alice():
        scope = db.acquire() if autocommit else db.session()
        async with scope as conn:
            for sql in statements:
                await conn.execute(sql)
            return (await conn.execute("SELECT pg_backend_pid()")).scalar()

    return run(alice)


@pytest.mark.parametrize("autocommit", [True, False], ids=["acquire", "session"])
def test_the_next_call_on_a_pooled_connection_sees_none_of_it(postgres, autocommit):
    backend = postgres(POOL_SIZE=1, STATEMENT_TIMEOUT=30)
    db = DbFace("attacker", backend=backend)
    alice_pid = leaves_state(db, autocommit)
    seen = run(execute, db, LOOK).first()  # bob's call, on the same connection
    assert seen.pop("pid") == alice_pid
    assert seen.pop("uid") in ("", None)  # RESET leaves an empty placeholder
    assert seen == {
        "work_mem": "4MB",
        "statement_timeout": "30s",
        "schema": backend.schema("attacker"),
        "no_temp": True,
        "prepared": 0,
        "advisory": 0,
        "cursors": 0,
        "channels": 0,
        "large_objects": 0,
    }
    with pytest.raises(DbOperationalError, match="not yet defined in this session"):
        run(execute, db, "SELECT currval('ids')")


def test_state_set_inside_the_extensions_own_function_is_reset(postgres):
    backend = postgres(POOL_SIZE=1)
    db = DbFace("attacker", backend=backend)
    run(
        execute,
        db,
        "CREATE FUNCTION set_uid(u text) RETURNS text LANGUAGE sql "
        "AS $$ SELECT set_config('app.uid', u, false) $$",
    )
    pid = leaves_state(db, True, ["SELECT set_uid('alice')"])
    seen = run(
        execute,
        db,
        "SELECT pg_backend_pid() AS pid, current_setting('app.uid', true) AS uid",
    ).first()
    assert seen["pid"] == pid and seen["uid"] in ("", None)


def last_query(pid):
    with connection.cursor() as cursor:
        cursor.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [pid])
        return cursor.fetchone()[0]


def test_only_a_call_that_may_have_changed_the_session_pays_for_a_reset(postgres):
    db = DbFace("attacker", backend=postgres(POOL_SIZE=1))
    read = "SELECT pg_backend_pid() AS pid, count(*) AS n FROM pg_class"
    pid = run(execute, db, read).first()["pid"]
    assert last_query(pid) == read  # nothing ran after it
    leaves_state(db, True, ["SET work_mem = '8MB'"])
    assert last_query(pid).startswith("DO $imperal_reset$")


def test_the_reset_keeps_the_extensions_identity_and_search_path(postgres):
    backend = postgres(POOL_SIZE=1)
    db = DbFace("attacker", backend=backend)
    leaves_state(db, True, ["SET search_path = public"])
    who = run(execute, db, "SELECT current_user AS u, current_schema() AS s").first()
    assert who == {"u": backend.role("attacker"), "s": backend.schema("attacker")}


# --- the platform's own locks are out of an extension's reach -----------------------


@pytest.fixture
def victim_extension(tmp_path, use_extensions):
    directory = tmp_path / "victim"
    (directory / "sql").mkdir(parents=True)
    (directory / "main.py").write_text(
        "from imperal_sdk import Extension\n"
        "ext = Extension('victim-app', migrations_dir='sql')\n"
    )
    (directory / "sql" / "001_create.sql").write_text("CREATE TABLE mine (v TEXT);")
    return use_extensions(str(directory)).get("victim-app")


def in_thread(function, *args):
    """Run ``function`` on a thread; return (finished within 15 s, its error)."""
    outcome = {}

    def target():
        try:
            function(*args)
        except BaseException as exc:  # reported to the test, not swallowed
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(15)
    return not thread.is_alive(), outcome.get("error")


def test_an_extension_holding_the_old_advisory_keys_blocks_no_one(
    postgres, victim_extension
):
    backend = postgres()
    victim = backend.role("victim-app")
    keys = [int(naming.digest(victim), 16), int(naming.digest("migrate", victim), 16)]
    attacker = DbFace("attacker", backend=backend)
    done = threading.Event()

    async def hold_every_key():
        async with attacker.acquire() as conn:
            for key in keys:
                await conn.execute("SELECT pg_advisory_lock(:k)", {"k": key})
                await conn.execute("SELECT pg_advisory_lock(:k::int8)", {"k": key})
            await conn.execute("BEGIN")
            for key in keys:
                await conn.execute("SELECT pg_advisory_xact_lock(:k)", {"k": key})
            while not done.is_set():
                await asyncio.sleep(0.05)

    holder = threading.Thread(target=run, args=(hold_every_key,), daemon=True)
    holder.start()
    time.sleep(0.5)
    try:
        finished, error = in_thread(backend.provision, "victim-app")
        assert finished and error is None
        finished, error = in_thread(migrate_extension, victim_extension, backend)
        assert finished and error is None
    finally:
        done.set()
        holder.join(10)
    assert list(
        ExtensionMigration.objects.of_extension("victim-app").values_list(
            "filename", flat=True
        )
    ) == ["001_create.sql"]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM imperal_ctxdb.locks FOR UPDATE",
        "LOCK TABLE imperal_ctxdb.locks IN ACCESS EXCLUSIVE MODE",
        "INSERT INTO imperal_ctxdb.locks VALUES ('provision:x')",
        "DELETE FROM imperal_ctxdb.locks",
    ],
)
def test_the_platforms_lock_table_is_out_of_reach(postgres, sql):
    backend = postgres()
    backend.provision("victim-app")  # the lock table exists from here on
    attacker = DbFace("attacker", backend=backend)

    async def in_a_session():
        async with attacker.session() as session:
            await session.execute(sql)

    with pytest.raises(DbPermissionError) as caught:
        run(in_a_session)
    assert caught.value.sqlstate == "42501"
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM imperal_ctxdb.locks")
        assert cursor.fetchone()[0] >= 1


def test_provisioning_still_waits_for_the_platform_itself(postgres):
    """The row lock serializes two provisioners of one extension, as before."""
    backend = postgres()
    backend.provision("victim-app")
    role = backend.role("victim-app")
    provisioner = threading.Thread(target=backend.provision, args=("victim-app",))
    with psycopg.connect(backend.server_conninfo()) as platform:
        platform.execute(
            "SELECT 1 FROM imperal_ctxdb.locks WHERE name = %s FOR UPDATE",
            [f"provision:{role}"],
        )
        provisioner.start()
        provisioner.join(1.0)
        assert provisioner.is_alive()  # waiting for the platform's transaction
    provisioner.join(15)
    assert not provisioner.is_alive()


# --- through the kernel: what ctx.db refuses before it runs -----------------------

LARGE_OBJECT_RULE = "rule: no large objects through ctx.db"
NOTIFY_RULE = "rule: no LISTEN/NOTIFY through ctx.db"
MEMORY_RULE = "rule: memory settings at most IMPERAL_DB['MEMORY_LIMIT']"


@pytest.fixture
def db_attacker(use_extensions, alice):
    use_extensions("tests.security.db_attacker")
    yield get_backend()
    get_backend().deprovision_all()
    close_pools()


def platform_scalar(sql, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def extension_objects(backend):
    """Relations and functions in the extension's schema."""
    return platform_scalar(
        "SELECT (SELECT count(*) FROM pg_class WHERE relnamespace = n.oid)"
        " + (SELECT count(*) FROM pg_proc WHERE pronamespace = n.oid)"
        " FROM pg_namespace n WHERE nspname = %s",
        [backend.schema("db-attacker")],
    )


def role_password(role):
    return platform_scalar(
        "SELECT rolpassword FROM pg_authid WHERE rolname = %s", [role]
    )


@pytest.mark.parametrize(
    "sql",
    [
        "ALTER ROLE CURRENT_USER PASSWORD 'chosen'",
        "alter /* hidden */ user current_user with password 'chosen'",
        "ALTER ROLE CURRENT_USER SET statement_timeout = 0",
        "ALTER ROLE CURRENT_USER VALID UNTIL 'infinity'",
        "CREATE ROLE helper LOGIN PASSWORD 'chosen'",
        "DROP ROLE IF EXISTS helper",
        "GRANT pg_read_all_data TO CURRENT_USER",
        "REASSIGN OWNED BY CURRENT_USER TO postgres",
        "SELECT set_config('role', 'postgres', false)",
        "SELECT 1; ALTER ROLE CURRENT_USER PASSWORD 'chosen'",
        "DO $$ BEGIN ALTER ROLE CURRENT_USER PASSWORD 'chosen'; END $$",
        "DO $$ BEGIN EXECUTE 'ALTER ROLE CURRENT_USER PASSWORD ''chosen'''; END $$",
        "CREATE FUNCTION pw() RETURNS void LANGUAGE plpgsql "
        "AS $$ BEGIN ALTER ROLE CURRENT_USER PASSWORD 'chosen'; END $$",
        "CREATE FUNCTION pw() RETURNS void LANGUAGE sql "
        "AS 'ALTER ROLE CURRENT_USER PASSWORD ''chosen'''",
    ],
)
def test_a_role_change_is_refused_before_it_runs(db_attacker, sql):
    call(["SELECT 1"])  # provisions the role, once per process
    role = db_attacker.role("db-attacker")
    password, settings = role_password(role), role_settings(role)
    assert ROLE_RULE in refused([sql])
    assert (role_password(role), role_settings(role)) == (password, settings)
    assert extension_objects(db_attacker) == 0


LARGE_OBJECTS = "SELECT count(*) FROM pg_largeobject_metadata"


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT lo_create(0)",
        "SELECT lo_creat(-1)",
        "SELECT lo_from_bytea(0, 'hoarded')",
        "SELECT lo_import('/etc/hostname')",
        "SELECT pg_catalog.lo_create(0)",
        'SELECT "lo_create"(0)',
        'SELECT U&"lo\\005fcreate"(0)',
        "SELECT * FROM lo_from_bytea(0, 'hoarded')",
        "SELECT lo_put(0, 0, 'x')",
        "GRANT SELECT ON LARGE OBJECT 1 TO PUBLIC",
        "CREATE VIEW hoard AS SELECT lo_create(0) AS id",
        "CREATE FUNCTION hoard() RETURNS oid LANGUAGE sql AS 'SELECT lo_create(0)'",
        "DO $$ BEGIN PERFORM lo_from_bytea(0, 'hoarded'); END $$",
    ],
)
def test_a_large_object_is_refused_before_it_runs(db_attacker, sql):
    before = platform_scalar(LARGE_OBJECTS)
    assert LARGE_OBJECT_RULE in refused([sql])
    assert platform_scalar(LARGE_OBJECTS) == before
    assert extension_objects(db_attacker) == 0


@pytest.fixture
def listener():
    """A platform session listening on channel ``imperal``; yields its notifies."""
    conn = psycopg.connect(get_backend().server_conninfo(), autocommit=True)
    conn.execute("LISTEN imperal")

    def heard():
        return [n.payload for n in conn.notifies(timeout=0.3, stop_after=5)]

    yield heard
    conn.close()


@pytest.mark.parametrize(
    "sql",
    [
        "NOTIFY imperal, 'from the extension'",
        "SELECT pg_notify('imperal', 'from the extension')",
        "SELECT pg_catalog.pg_notify('imperal', 'from the extension')",
        "LISTEN imperal",
        "DO $$ BEGIN PERFORM pg_notify('imperal', 'from the extension'); END $$",
    ],
)
def test_listen_and_notify_are_refused_before_they_run(db_attacker, listener, sql):
    assert NOTIFY_RULE in refused([sql])
    assert listener() == []
    platform_scalar("SELECT pg_notify('imperal', 'from the platform')")
    assert listener() == ["from the platform"]  # the listener does hear


@pytest.mark.parametrize(
    ("sql", "mode"),
    [
        ("SET work_mem = '2GB'", "acquire"),
        ("SET LOCAL work_mem = '2GB'", "session"),
        ("SET work_mem = 2097152", "acquire"),
        ("SET work_mem = '0x7fffffff'", "acquire"),
        ("SELECT set_config('work_mem', '2GB', false)", "acquire"),
        ("SELECT set_config('work_mem', '2GB'::text, true)", "session"),
        ("SELECT set_config('maintenance_work_mem', '10GB', false)", "acquire"),
        ("SET temp_buffers = '1GB'", "acquire"),
        ("SET hash_mem_multiplier = 1000", "session"),
        (
            "CREATE FUNCTION big() RETURNS int LANGUAGE sql SET work_mem = '2GB' "
            "AS 'SELECT 1'",
            "session",
        ),
    ],
)
def test_memory_settings_above_the_limit_are_refused(db_attacker, sql, mode):
    message = refused([sql], mode)
    assert MEMORY_RULE in message
    default = platform_scalar("SHOW work_mem")
    assert call(["SHOW work_mem"]) == [{"work_mem": default}]
    assert extension_objects(db_attacker) == 0


def test_memory_settings_within_the_limit_are_allowed(db_attacker):
    rows = call(["SET work_mem = '64MB'", "SHOW work_mem"])
    assert rows == [{"work_mem": "64MB"}]
    default = platform_scalar("SHOW work_mem")
    assert call(["SHOW work_mem"]) == [{"work_mem": default}]  # reset after the call


# --- through the kernel: what gets past the parser is undone ----------------------


def test_a_role_setting_changed_at_run_time_is_restored_when_the_call_ends(
    db_attacker,
):
    role = db_attacker.provision("db-attacker")
    before = role_settings(role)
    setting = "statement_timeout = 0"
    call([ALTER_ROLE_AT_RUN_TIME.format(setting=setting)])
    assert role_settings(role) == before


def test_a_view_cannot_change_the_role_from_a_plain_read(db_attacker):
    role = db_attacker.provision("db-attacker")
    before = role_settings(role)
    call(
        [
            "CREATE TABLE log (v INTEGER)",
            "CREATE FUNCTION lift() RETURNS int LANGUAGE plpgsql AS $$ BEGIN "
            "EXECUTE 'ALTER ROLE CURRENT_USER SET ' || 'work_mem = ''2GB'''; "
            "RETURN 1; END $$",
            "CREATE VIEW innocent AS SELECT lift() AS one",
        ]
    )
    for mode in ("acquire", "session"):  # reads run read-only
        assert "read-only transaction" in str(
            failed(["SELECT one FROM innocent"], mode)
        )
        assert role_settings(role) == before
    # After a write, a session's transaction is read-write: accounted for.
    call(["INSERT INTO log VALUES (1)", "SELECT one FROM innocent"], mode="session")
    assert role_settings(role) == before


def test_a_session_that_reads_then_writes_commits_the_write(db_attacker):
    call(["CREATE TABLE log (v INTEGER)"])
    statements = [
        "SELECT count(*) AS n FROM log",
        "INSERT INTO log VALUES (1)",
        "SELECT count(*) AS n FROM log",
    ]
    assert call(statements, mode="session") == [{"n": 1}]
    assert call(["SELECT count(*) AS n FROM log"]) == [{"n": 1}]


def test_a_session_whose_read_failed_writes_nothing(db_attacker):
    call(["CREATE TABLE log (v INTEGER)"])

    async def read_fails_then_write():
        async with DbFace("db-attacker").session() as session:
            with pytest.raises(DbError):
                await session.execute("SELECT 1 / 0")
            await session.execute("INSERT INTO log VALUES (1)")

    with pytest.raises(DbError, match="current transaction is aborted"):
        run(read_fails_then_write)
    assert call(["SELECT count(*) AS n FROM log"]) == [{"n": 0}]


def test_a_large_object_made_at_run_time_is_gone_when_the_call_ends(db_attacker):
    before = platform_scalar(LARGE_OBJECTS)
    hidden = "DO $$ BEGIN EXECUTE 'SELECT lo_' || 'from_bytea(0, ''hoarded'')'; END $$"
    for mode in ("acquire", "session"):
        call([hidden], mode)
        assert platform_scalar(LARGE_OBJECTS) == before


@pytest.mark.parametrize("mode", ["acquire", "session"])
def test_ordinary_writes_leave_the_role_alone(db_attacker, mode):
    call(["SELECT 1"])  # provisions the role, once per process
    role = db_attacker.role("db-attacker")
    password = role_password(role)
    rows = call(
        [
            "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)",
            "INSERT INTO notes VALUES (1, 'one'); INSERT INTO notes VALUES (2, 'two')",
            "UPDATE notes SET body = upper(body) WHERE id = 2",
            "SELECT id, body FROM notes WHERE id = 1 FOR UPDATE",
            "DO $$ BEGIN INSERT INTO notes VALUES (3, 'three'); END $$",
            "SELECT count(*) AS n FROM notes",
        ],
        mode,
    )
    assert rows == [{"n": 3}]
    assert role_password(role) == password  # not re-provisioned: nothing to restore
