"""ctx.db in an isolated worker answers as in-process: sessions, autocommit, parameters
and values, the same error classes and messages, the same refusals by the database —
the platform runs the worker's statements as the extension (its role or its file).
The gateway's side: tests/gateway/test_db_route.py."""

import json

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings as django_settings

from apps.accounts.models import User
from apps.db import core
from apps.db.errors import DbError
from apps.db.face import DbFace
from apps.extensions.errors import HandlerFailed
from apps.extensions.invocation import prepare_tool
from tests.compat.server import LiveServer

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
APP, OTHER = "db-probe", "probe"
ENTRY = "tests.fixtures.extensions.db_probe"
IDLE_SECONDS = 3
# The server closes a keep-alive connection idle this long (granian's header
# read timeout, 30 s by default); workers ping idle sessions more often.
SERVER_KEEPALIVE_MS = 1000


@pytest.fixture(scope="module")
def db_server(django_db_setup, django_db_blocker, tmp_path_factory):
    """The production server with two processes: a session's requests must all
    reach the one holding it (one keep-alive connection per block, kept open
    by pings while the session idles)."""
    live = LiveServer(
        tmp_path_factory.mktemp("db"),
        extensions=ENTRY,
        workers=2,
        env={
            "IMPERAL_EXTENSION_RUNTIME": json.dumps({APP: "isolated"}),
            "IMPERAL_DB_EXTENSION_OPTIONS": json.dumps(
                {APP: {"IDLE_IN_TRANSACTION_TIMEOUT": IDLE_SECONDS}}
            ),
            "GRANIAN_HTTP1_HEADER_READ_TIMEOUT": str(SERVER_KEEPALIVE_MS),
            "IMPERAL_DB_WORKER_KEEPALIVE": "0.3",
        },
    )
    live.start()
    yield live
    live.stop()


@pytest.fixture(params=["in-process", "isolated"])
def db_runtime(request, settings, use_extensions):
    """The probe in each runtime, its ``items`` table empty."""
    settings.IMPERAL_EXTENSION_RUNTIME = {APP: request.param}
    settings.IMPERAL_HANDLER_TIMEOUTS = {APP: 20}
    use_extensions(ENTRY)
    if request.param == "isolated":
        request.getfixturevalue("db_server")
    sql(APP, "DROP TABLE IF EXISTS items")
    sql(APP, "CREATE TABLE items (name VARCHAR(40) PRIMARY KEY, n INTEGER)")
    return request.param


def sql(app_id, text):
    """Run one statement as ``app_id`` in this process; return its rows as dicts."""

    async def run():
        async with DbFace(app_id).acquire() as conn:
            return (await conn.execute(text)).all()

    return async_to_sync(run)()


def raised_here(app_id, text):
    """Return (class name, message) of what ``text`` raises in-process."""
    try:
        sql(app_id, text)
    except DbError as exc:
        return type(exc).__name__, str(exc)
    raise AssertionError(f"{text!r} did not raise")


def stored():
    return sql(APP, "SELECT name, n FROM items ORDER BY name")


def tool(handler, user="alice", **params):
    return async_to_sync(prepare_tool(APP, handler, user, params).run)()


def test_a_session_commits_and_acquire_autocommits(db_runtime, alice):
    assert tool("transfer", names=["a", "b"]) == {"count": 2}
    got = tool("add", name="ccc")
    assert got == {
        "rowcount": 1,
        "columns": ["name", "n"],
        "rows": [
            {"name": "a", "n": 0},
            {"name": "b", "n": 1},
            {"name": "ccc", "n": 3},
        ],
        "all": got["rows"],
        "first": {"name": "a", "n": 0},
        "len": 3,
        "repr": "<Result 3 row(s), rowcount=3>",
    }
    assert stored() == got["rows"]


def test_a_session_whose_block_raises_is_rolled_back(db_runtime, alice):
    tool("add", name="kept")
    with pytest.raises(HandlerFailed, match="failed at z"):
        tool("transfer", names=["x", "y", "z"], fail_at=2)
    assert stored() == [{"name": "kept", "n": 4}]


def test_values_and_parameters_come_back_as_in_process(db_runtime, alice):
    if django_settings.IS_POSTGRES:
        select = (
            "SELECT :n AS n, :big AS big, :f AS f, :text AS text, :blob AS blob, "
            ":day AS day, :at AS at, :d AS d, :id AS id, :empty::text AS empty, "
            "'1 day'::interval AS span, '{\"k\": [1]}'::jsonb AS doc, "
            "ARRAY[1.5, 2]::numeric[] AS arr"
        )
    else:
        select = (
            "SELECT :n AS n, :big AS big, :f AS f, :text AS text, :blob AS blob, "
            ":empty AS empty, ':x' AS literal"
        )
    got = tool("run", sql=select)
    assert "rows" in got, got
    [row] = got["rows"]
    assert row["text"] == ["str", repr("ünïcode ':x'")]
    assert row["blob"] == ["bytes", repr(b"\x00\xff")]
    assert row["big"] == ["int", repr(2**40)]
    assert row["empty"] == ["NoneType", "None"]
    if django_settings.IS_POSTGRES:
        assert row["d"] == ["Decimal", "Decimal('12.50')"]
        assert row["at"][0] == "datetime" and "2026, 1, 31, 12, 0" in row["at"][1]
        assert row["id"] == ["UUID", "UUID('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11')"]
        assert row["span"] == ["timedelta", "datetime.timedelta(days=1)"]
        assert row["doc"] == ["dict", "{'k': [1]}"]
        assert row["arr"] == ["list", "[Decimal('1.5'), Decimal('2')]"]
    else:
        assert row["literal"] == ["str", "':x'"]
    assert got["scalar"] == ["int", "7"]
    assert tool("handle") == {
        "app_id": APP,
        "repr": f"<ctx.db {APP}>",
        "backend": "AttributeError: ctx.db has no backend: an extension reaches only "
        "its own schema, through ctx.db.session() and ctx.db.acquire()",
        "reassign": "AttributeError: ctx.db.app_id is fixed when the context is "
        "built; an extension's SQL reaches only its own schema",
        "app_id_after": APP,
    }


def test_bad_sql_raises_the_same_class_and_message(db_runtime, alice):
    for statement in ("SELEC 1", "SELECT * FROM nowhere", "INSERT INTO items VALUES"):
        name, message = raised_here(APP, statement)
        got = tool("run", sql=statement)
        assert (got["raised"], got["message"]) == (name, message)
        assert got["raised"] == "DbProgrammingError"
    tool("add", name="a")
    duplicate = tool("run", sql="INSERT INTO items VALUES ('a', 1)", mode="session")
    assert duplicate["raised"] == "DbIntegrityError"
    missing = tool("run", sql="SELECT :absent")
    assert missing["raised"] == "DbParameterError" and missing["value_error"]
    assert ":absent" in missing["message"]
    assert stored() == [{"name": "a", "n": 1}]


def test_platform_tables_and_another_extensions_area_are_refused(db_runtime, alice):
    sql(OTHER, "DROP TABLE IF EXISTS secrets")
    sql(OTHER, "CREATE TABLE secrets (v TEXT)")
    sql(OTHER, "INSERT INTO secrets VALUES ('theirs')")
    backend = core.get_backend()
    if django_settings.IS_POSTGRES:
        other = f"{backend.schema(OTHER)}.secrets"
        attacks = [
            "SELECT imperal_id FROM public.accounts_user",
            "DELETE FROM public.accounts_user",
            f"SELECT v FROM {other}",
            f"UPDATE {other} SET v = 'mine'",
            "SET ROLE postgres",
        ]
    else:
        platform = django_settings.DATABASES["default"]["NAME"]
        attacks = [
            f"ATTACH DATABASE '{platform}' AS platform",
            f"ATTACH DATABASE '{backend.path(OTHER)}' AS other",
        ]
    for attack in attacks:
        for mode in ("acquire", "session"):
            got = tool("run", sql=attack, mode=mode)
            assert got["raised"] == "DbPermissionError", (attack, got)
            assert got["permission_error"] is True
    assert list(User.objects.values_list("imperal_id", flat=True)) == ["alice"]
    assert sql(OTHER, "SELECT v FROM secrets") == [{"v": "theirs"}]


@pytest.fixture
def isolated(db_server, settings, use_extensions):
    settings.IMPERAL_EXTENSION_RUNTIME = {APP: "isolated"}
    settings.IMPERAL_HANDLER_TIMEOUTS = {APP: 20}
    use_extensions(ENTRY)
    sql(APP, "DROP TABLE IF EXISTS items")
    sql(APP, "CREATE TABLE items (name VARCHAR(40) PRIMARY KEY, n INTEGER)")


def test_a_session_outlives_the_servers_keep_alive_limit(isolated, alice):
    pause = SERVER_KEEPALIVE_MS / 1000 * 2  # still under IDLE_SECONDS
    assert tool("transfer", names=["a", "b", "c"], pause=pause) == {"count": 3}
    assert [row["name"] for row in stored()] == ["a", "b", "c"]


def test_a_session_left_idle_is_rolled_back_by_the_platform(isolated, alice):
    got = tool("idle", seconds=IDLE_SECONDS + 1.5)
    assert got["raised"] == "DbTimeout", got
    assert got["limit"] == "IDLE_IN_TRANSACTION_TIMEOUT"
    assert stored() == []
    sql(APP, "INSERT INTO items VALUES ('after', 1)")  # nothing holds the table
    assert stored() == [{"name": "after", "n": 1}]
