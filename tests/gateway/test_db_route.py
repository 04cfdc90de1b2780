"""``POST /v1/internal/db/…`` (an isolated worker's ctx.db): statements run as the call
token's extension through the ctx.db core, sessions held for that token alone, ended
when idle or expired, errors by class. The worker's side: tests/runtime/test_db.py."""

import datetime
import decimal
import time
import uuid

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings as django_settings

from apps.accounts.models import SecurityEvent, User
from apps.db import core, errors, result
from apps.db.face import DbFace
from apps.db.relay import get_relay
from apps.runtime.worker import db as worker_db
from apps.runtime.worker import dberrors as worker_errors
from apps.runtime.worker import dbwire

from .conftest import APP, OTHER_APP, call_token, error_of

pytestmark = pytest.mark.django_db(transaction=True)
ROUTE = "/v1/internal/db"


@pytest.fixture
def items(registry):
    """APP's ``items`` table, empty; no session held afterwards (the areas are
    dropped at the end of the run)."""
    sql(APP, "DROP TABLE IF EXISTS items")
    sql(APP, "CREATE TABLE items (name VARCHAR(40) PRIMARY KEY, n INTEGER)")
    yield
    get_relay().close()


def sql(app_id, text, params=None):
    """Run one statement as ``app_id`` in-process; return its rows as dicts."""

    async def run():
        async with DbFace(app_id).acquire() as conn:
            return (await conn.execute(text, params)).all()

    return async_to_sync(run)()


def names():
    return [row["name"] for row in sql(APP, "SELECT name FROM items ORDER BY name")]


def post(gateway, action, body, token):
    return gateway.post(f"{ROUTE}/{action}", body, call=token)


def begin(gateway, token):
    response = post(gateway, "begin", {}, token)
    assert response.status_code == 200, response.content
    return response.json()["session"]


def insert(gateway, token, name, session=None):
    body = {"sql": "INSERT INTO items VALUES (:name, :n)", "params": {"name": name}}
    body["params"]["n"] = 1
    if session is not None:
        body["session"] = session
    return post(gateway, "execute", body, token)


def test_a_session_commits_its_statements_together(gateway, items):
    token = call_token()
    session = begin(gateway, token)
    assert insert(gateway, token, "a", session).json()["rowcount"] == 1
    assert insert(gateway, token, "b", session).status_code == 200
    assert names() == []  # not committed yet
    inside = post(
        gateway,
        "execute",
        {"sql": "SELECT COUNT(*) AS n FROM items", "session": session},
        token,
    )
    assert inside.json() == {
        "columns": ["n"],
        "rows": [[2]],
        "rowcount": 1,
        "scalar": 2,
    }
    assert post(gateway, "commit", {"session": session}, token).json() == {
        "committed": True
    }
    assert names() == ["a", "b"]
    assert get_relay().held() == {}


def test_a_rolled_back_session_leaves_nothing(gateway, items):
    token = call_token()
    session = begin(gateway, token)
    insert(gateway, token, "a", session)
    assert post(gateway, "rollback", {"session": session}, token).status_code == 200
    assert names() == []
    assert get_relay().held() == {}


def test_a_statement_alone_commits_at_once(gateway, items):
    response = insert(gateway, call_token(), "a")
    assert response.status_code == 200
    assert response.json() == {"columns": [], "rows": [], "rowcount": 1, "scalar": None}
    assert names() == ["a"]


def test_values_travel_both_ways_in_their_wire_form(gateway, items):
    params = {
        "d": decimal.Decimal("12.50"),
        "day": datetime.date(2026, 1, 31),
        "blob": b"\x00\xff",
        "text": "ünïcode",
        "n": 2**40,
    }
    select = "SELECT :d AS d, :day AS day, :blob AS blob, :text AS text, :n AS n"
    if not django_settings.IS_POSTGRES:
        params["d"] = 12.5  # sqlite3 binds no Decimal
    body = {"sql": select, "params": {k: dbwire.encode(v) for k, v in params.items()}}
    response = post(gateway, "execute", body, call_token())
    assert response.status_code == 200, response.content
    [row] = response.json()["rows"]
    decoded = [dbwire.decode(value, strict=False) for value in row]
    expected = list(params.values())
    if not django_settings.IS_POSTGRES:
        expected[1] = "2026-01-31"  # SQLite stores a date as its text
    assert decoded == expected


@pytest.mark.postgres
def test_postgres_types_come_back_as_the_core_returns_them(gateway, items):
    select = (
        "SELECT 1.50::numeric(5,2) AS d, 'NaN'::float8 AS nan, "
        "'2026-01-31 12:00+02'::timestamptz AS at, '1 day 2 s'::interval AS span, "
        "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS id, "
        """'{"k": [1, {"decimal": "x"}]}'::jsonb AS doc, ARRAY[1, 2] AS arr, """
        "int4range(1, 3) AS r"
    )
    response = post(gateway, "execute", {"sql": select}, call_token())
    [row] = response.json()["rows"]
    values = [dbwire.decode(value, strict=False) for value in row]
    assert values[0] == decimal.Decimal("1.50")
    assert values[1] != values[1]  # NaN
    assert values[2] == datetime.datetime(2026, 1, 31, 10, 0, tzinfo=datetime.UTC)
    assert values[3] == datetime.timedelta(days=1, seconds=2)
    assert values[4] == uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")
    assert values[5] == {"k": [1, {"decimal": "x"}]}
    assert values[6] == [1, 2]
    assert values[7] == "[1, 3)"  # a type without a wire form: str() of it


def test_another_invocations_token_cannot_use_my_session(gateway, items):
    mine, theirs = call_token(), call_token()  # same app and user, another jti
    session = begin(gateway, mine)
    insert(gateway, mine, "a", session)
    before = SecurityEvent.objects.of_kind("db_session_foreign").attempts()
    for action, body in (
        ("execute", {"sql": "DELETE FROM items", "session": session}),
        ("commit", {"session": session}),
        ("rollback", {"session": session}),
    ):
        response = post(gateway, action, body, theirs)
        assert response.status_code == 409, response.content
        error = error_of(response)
        assert error["code"] == "session_not_held"
        assert error["detail"]["error"] == "DbSessionNotHeld"
    assert SecurityEvent.objects.of_kind("db_session_foreign").attempts() == before + 3
    assert names() == []  # still mine, still uncommitted
    assert post(gateway, "commit", {"session": session}, mine).status_code == 200
    assert names() == ["a"]


def test_an_unknown_session_is_not_held_by_this_process(gateway, items):
    token = call_token()
    for action, body in (
        ("execute", {"sql": "INSERT INTO items VALUES ('x', 1)", "session": "nope"}),
        ("commit", {"session": "nope"}),
    ):
        response = post(gateway, action, body, token)
        assert response.status_code == 409
        error = error_of(response)
        assert error["code"] == "session_not_held"
        assert "not held by this gateway process" in error["message"]
    assert names() == []
    assert not SecurityEvent.objects.of_kind("db_session_foreign").exists()


def test_an_idle_session_is_rolled_back_and_released(gateway, items, settings):
    settings.IMPERAL_DB = {
        **settings.IMPERAL_DB,
        "EXTENSION_OPTIONS": {APP: {"IDLE_IN_TRANSACTION_TIMEOUT": 0.5}},
    }
    token = call_token()
    session = begin(gateway, token)
    insert(gateway, token, "a", session)
    assert get_relay().held() == {APP: 1}
    wait_until(lambda: get_relay().held() == {})
    assert names() == []
    if not django_settings.IS_POSTGRES:  # the file's write lock was released
        sql(APP, "INSERT INTO items VALUES ('b', 2)")
    late = insert(gateway, token, "c", session)
    assert late.status_code == 503
    error = error_of(late)
    assert error["detail"]["error"] == "DbTimeout"
    assert error["detail"]["limit"] == "IDLE_IN_TRANSACTION_TIMEOUT"
    # Its rollback succeeds (it was rolled back); the id is then forgotten.
    assert post(gateway, "rollback", {"session": session}, token).status_code == 200
    assert post(gateway, "commit", {"session": session}, token).status_code == 409


def test_a_ping_answers_for_the_owner_only_and_is_not_a_use(gateway, items, settings):
    settings.IMPERAL_DB = {
        **settings.IMPERAL_DB,
        "EXTENSION_OPTIONS": {APP: {"IDLE_IN_TRANSACTION_TIMEOUT": 0.5}},
    }
    token = call_token()
    session = begin(gateway, token)
    insert(gateway, token, "a", session)
    assert post(gateway, "ping", {"session": session}, token).json() == {"held": True}
    theirs = post(gateway, "ping", {"session": session}, call_token())
    assert theirs.json() == {"held": False}
    deadline = time.monotonic() + 10
    while post(gateway, "ping", {"session": session}, token).json()["held"]:
        assert time.monotonic() < deadline, "pings kept an idle session alive"
        time.sleep(0.1)
    assert names() == []


def test_a_session_ends_when_its_call_token_expires(gateway, items):
    # exp is in whole seconds: minted at a second's start, the token lives ~2 s, not
    # anywhere between 0 and 1 s as ttl=1 minted mid-second would.
    time.sleep(1 - time.time() % 1)
    token = call_token(ttl=2)
    session = begin(gateway, token)
    insert(gateway, token, "a", session)
    wait_until(lambda: get_relay().held() == {})
    assert names() == []
    assert insert(gateway, token, "b", session).status_code == 401


def test_an_extension_holds_at_most_its_worker_sessions(gateway, items, settings):
    settings.IMPERAL_DB = {**settings.IMPERAL_DB, "WORKER_SESSIONS": 1}
    token = call_token()
    first = begin(gateway, token)
    refused = post(gateway, "begin", {}, token)
    assert refused.status_code == 503
    assert refused["Retry-After"] == "1"
    assert error_of(refused)["detail"]["error"] == "DbSessionLimit"
    assert "WORKER_SESSIONS" in error_of(refused)["message"]
    assert begin(gateway, call_token(app_id=OTHER_APP))  # another extension's own
    post(gateway, "rollback", {"session": first}, token)
    assert begin(gateway, token)


def test_bad_sql_is_the_error_shape_naming_the_class(gateway, items):
    response = post(gateway, "execute", {"sql": "SELEC 1"}, call_token())
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid_argument"
    assert error["detail"]["error"] == "DbProgrammingError"
    assert error["detail"]["sqlstate"] == (
        "42601" if django_settings.IS_POSTGRES else None
    )
    assert "syntax error" in error["message"]
    assert "Traceback" not in response.content.decode()


def test_a_missing_parameter_runs_nothing(gateway, items):
    body = {"sql": "INSERT INTO items VALUES (:name, :n)", "params": {"name": "a"}}
    response = post(gateway, "execute", body, call_token())
    assert response.status_code == 400
    error = error_of(response)
    assert error["detail"]["error"] == "DbParameterError"
    assert ":n" in error["message"]
    assert names() == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"sql": "SELECT :x", "params": {"x": {"nope": 1}}}, "params.x"),
        ({"sql": "SELECT :x", "params": {"x": {"text": "t"}}}, "params.x"),
        ({"sql": "SELECT :x", "params": {"x": {"bytes": "@@"}}}, "params.x"),
        ({"sql": "SELECT 1", "session": 5}, "session"),
    ],
)
def test_a_malformed_body_is_400_naming_the_field(gateway, items, body, field):
    response = post(gateway, "execute", body, call_token())
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid_params"
    assert error["message"].startswith(f"{field}:"), error


def test_only_a_call_token_is_taken(gateway, items, alice_token):
    body = {"sql": "INSERT INTO items VALUES ('a', 1)"}
    assert gateway.post(f"{ROUTE}/execute", body).status_code == 401
    assert gateway.post(f"{ROUTE}/execute", body, token=alice_token).status_code == 401
    assert gateway.get(f"{ROUTE}/execute", call=call_token()).status_code == 405
    assert names() == []


def test_platform_tables_and_another_extensions_area_are_refused(gateway, items):
    sql(OTHER_APP, "DROP TABLE IF EXISTS secrets")
    sql(OTHER_APP, "CREATE TABLE secrets (v TEXT)")
    sql(OTHER_APP, "INSERT INTO secrets VALUES ('theirs')")
    User.objects.create(username="alice", imperal_id="alice")
    backend = core.get_backend()
    if django_settings.IS_POSTGRES:
        other = f"{backend.schema(OTHER_APP)}.secrets"
        attempts = [
            "SELECT * FROM public.accounts_user",
            "DELETE FROM public.accounts_user",
            f"SELECT * FROM {other}",
            f"DELETE FROM {other}",
        ]
    else:
        platform = django_settings.DATABASES["default"]["NAME"]
        attempts = [
            f"ATTACH DATABASE '{platform}' AS platform",
            f"ATTACH DATABASE '{backend.path(OTHER_APP)}' AS other",
        ]
    token = call_token()
    for attempt in attempts:
        response = post(gateway, "execute", {"sql": attempt}, token)
        assert response.status_code == 403, (attempt, response.content)
        assert error_of(response)["detail"]["error"] == "DbPermissionError"
    assert list(User.objects.values_list("imperal_id", flat=True)) == ["alice"]
    assert sql(OTHER_APP, "SELECT v FROM secrets") == [{"v": "theirs"}]


def test_the_workers_result_and_errors_mirror_the_cores():
    def public(cls):
        return {name for name in dir(cls) if not name.startswith("_")}

    assert public(worker_db.Result) - {"of"} == public(result.Result)
    core_errors = [
        cls
        for cls in vars(errors).values()
        if isinstance(cls, type)
        and issubclass(cls, errors.DbError)
        and not issubclass(cls, errors.MigrationError)
    ]
    assert len(core_errors) == 10
    bases = (
        (PermissionError, PermissionError),
        (ValueError, ValueError),
        (worker_errors.DbOperationalError, errors.DbOperationalError),
    )
    for cls in core_errors:
        mirror = getattr(worker_errors, cls.__name__)
        for worker_base, core_base in bases:
            assert issubclass(mirror, worker_base) == issubclass(cls, core_base), cls
        assert mirror.code == cls.code, cls


def wait_until(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)
