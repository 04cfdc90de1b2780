"""Attacks on ctx.db's SQLite backend (issue 10): each is refused, nothing changes.

SQLite runs in the platform's process, so a pragma or function that reaches
past the extension's own file reaches every extension and the platform.
These run on both passes: the SQLite backend needs no server.
"""

import sqlite3
import time

import pytest

from apps.accounts.models import User
from apps.db.backends import sqlite_guard
from apps.db.core import load_backend
from apps.db.errors import (
    DbDataError,
    DbError,
    DbPermissionError,
    DbProgrammingError,
    DbTimeout,
)
from apps.db.face import DbFace
from tests.db.conftest import backend_options, execute, run

pytestmark = pytest.mark.django_db

MAX = sqlite_guard.MAX_VALUE_BYTES


@pytest.fixture
def sqlite(tmp_path):
    backends = []

    def make(**options):
        backends.append(
            load_backend({**backend_options("sqlite", tmp_path), **options})
        )
        return backends[-1]

    yield make
    for backend in backends:
        backend.deprovision_all()


@pytest.fixture
def notes(sqlite):
    db = DbFace("attacker", backend=sqlite())
    run(execute, db, "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    run(execute, db, "INSERT INTO notes VALUES (1, 'kept'), (2, 'also kept')")
    return db


def stored(db):
    return run(execute, db, "SELECT id, body FROM notes ORDER BY id").all()


def process_heap_limits():
    """The process-wide limits, as any new sqlite3 connection in this process sees."""
    probe = sqlite3.connect(":memory:")
    try:
        return tuple(
            probe.execute(f"PRAGMA {name}").fetchone()[0]
            for name in ("hard_heap_limit", "soft_heap_limit")
        )
    finally:
        probe.close()


def test_hard_heap_limit_is_refused_and_every_database_keeps_working(notes, alice):
    before = process_heap_limits()
    with pytest.raises(DbPermissionError, match="PRAGMA hard_heap_limit = 300000"):
        run(execute, notes, "PRAGMA hard_heap_limit = 300000")
    assert process_heap_limits() == before
    # ctx.db, the ORM and a bigger allocation all still work in this process.
    assert stored(notes) == [{"id": 1, "body": "kept"}, {"id": 2, "body": "also kept"}]
    assert User.objects.filter(imperal_id="alice").count() == 1
    User.objects.create(username="after", imperal_id="after")
    big = run(execute, notes, "SELECT length(zeroblob(4000000)) AS n").scalar()
    assert big == 4_000_000


@pytest.mark.parametrize(
    "sql",
    [
        "PRAGMA soft_heap_limit = 1",
        "PRAGMA main.hard_heap_limit = 1",
        "SELECT * FROM pragma_soft_heap_limit",
        "PRAGMA cache_size = -2000000",
        "PRAGMA mmap_size = 2147418112",
        "PRAGMA temp_store = MEMORY",
        "PRAGMA journal_mode = OFF",
        "PRAGMA synchronous = OFF",
        "PRAGMA locking_mode = EXCLUSIVE",
        "PRAGMA query_only = 1",
        "PRAGMA foreign_keys = OFF",
        "PRAGMA recursive_triggers = OFF",
        "PRAGMA threads = 8",
        "PRAGMA shrink_memory",
        "PRAGMA writable_schema = ON",
        "PRAGMA trusted_schema = OFF",
        "PRAGMA temp_store_directory = '/tmp'",
        "PRAGMA schema_version = 1",
        "PRAGMA compile_options",
    ],
)
def test_pragmas_off_the_allow_list_are_refused(notes, sql):
    state = "SELECT * FROM pragma_journal_mode, pragma_foreign_keys"
    before = run(execute, notes, state).all()
    with pytest.raises(DbPermissionError, match="not on ctx.db's allow-list"):
        run(execute, notes, sql)
    assert (
        run(execute, notes, state).all()
        == before
        == [{"journal_mode": "wal", "foreign_keys": 1}]
    )
    assert len(stored(notes)) == 2


def test_a_refused_pragma_names_the_rule_and_truncates_the_value(notes):
    with pytest.raises(DbPermissionError) as caught:
        run(execute, notes, f"PRAGMA cache_size = '{'9' * 500}'")
    message = str(caught.value)
    assert "cache_size" in message and "table_info" in message
    assert "9" * 61 not in message


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT fts3_tokenizer('simple')",
        "SELECT hex(fts3_tokenizer('simple'))",
        "SELECT fts3_tokenizer('evil', x'4141414141414141')",
        "SELECT load_extension('/tmp/evil.so')",
        "SELECT fts5(NULL)",
        "SELECT sqlite_log(1, 'forged log line')",
        "SELECT rtreenode(2, x'00')",
        "SELECT sqlite_compileoption_get(0)",
    ],
)
def test_functions_off_the_allow_list_are_refused(notes, sql):
    with pytest.raises(DbPermissionError, match="not on ctx.db's allow-list"):
        run(execute, notes, sql)
    assert len(stored(notes)) == 2


def test_a_tokenizer_cannot_be_planted_for_a_new_fts_table(notes):
    with pytest.raises(DbPermissionError, match="fts3_tokenizer"):
        run(execute, notes, "SELECT fts3_tokenizer('planted', x'0000000000000000')")
    with pytest.raises(DbError, match="unknown tokenizer: planted"):
        run(execute, notes, "CREATE VIRTUAL TABLE t USING fts4(body, tokenize=planted)")
    tables = run(execute, notes, "SELECT name FROM sqlite_master WHERE name = 't'")
    assert tables.all() == []


def test_virtual_table_modules_off_the_allow_list_are_refused(notes):
    with pytest.raises(DbPermissionError, match="module dbstat"):
        run(execute, notes, "CREATE VIRTUAL TABLE pages USING dbstat")
    names = run(execute, notes, "SELECT name FROM sqlite_master").all()
    assert names == [{"name": "notes"}]


def test_the_functions_extensions_use_still_work(notes):
    row = run(
        execute,
        notes,
        """
        SELECT count(*) AS n, sum(id) AS total, group_concat(body, '|') AS bodies,
               coalesce(NULL, 'x') AS c, printf('%05d', 42) AS p, lower('AbC') AS l,
               json_extract('{"a": [1, 2]}', '$.a[1]') AS j, '{"k": 3}' ->> 'k' AS arrow,
               datetime('2026-01-01', '+1 day') AS d, strftime('%Y', '2026-05-01') AS y,
               round(sqrt(16.0), 1) AS r, iif(1, 'yes', 'no') AS i,
               instr('hello', 'll') AS pos, replace('a-b-c', '-', '+') AS rep,
               trim('xxhixx', 'x') AS t, ltrim('  pad') AS lt, typeof(1.5) AS ty
        FROM notes
        """,
    ).first()
    assert row == {
        "n": 2,
        "total": 3,
        "bodies": "kept|also kept",
        "c": "x",
        "p": "00042",
        "l": "abc",
        "j": 2,
        "arrow": 3,
        "d": "2026-01-02 00:00:00",
        "y": "2026",
        "r": 4.0,
        "i": "yes",
        "pos": 3,
        "rep": "a+b+c",
        "t": "hi",
        "lt": "pad",
        "ty": "real",
    }
    window = run(
        execute,
        notes,
        "SELECT id, row_number() OVER (ORDER BY id DESC) AS rn, "
        "lag(body) OVER (ORDER BY id) AS prev FROM notes ORDER BY id",
    ).all()
    assert window == [
        {"id": 1, "rn": 2, "prev": None},
        {"id": 2, "rn": 1, "prev": "kept"},
    ]


def test_schema_work_and_read_only_pragmas_still_work(notes):
    for sql in (
        "ALTER TABLE notes ADD COLUMN tag TEXT DEFAULT 't'",
        "ALTER TABLE notes RENAME COLUMN tag TO label",
        "ALTER TABLE notes DROP COLUMN label",
        "ALTER TABLE notes RENAME TO memos",
        "ALTER TABLE memos RENAME TO notes",
        "CREATE INDEX notes_body ON notes (lower(body))",
        "CREATE TRIGGER notes_touch AFTER UPDATE ON notes "
        "BEGIN SELECT upper(NEW.body); END",
        "CREATE VIRTUAL TABLE search USING fts5(body)",
        "CREATE VIRTUAL TABLE boxes USING rtree(id, x0, x1)",
        "CREATE VIRTUAL TABLE legacy USING fts4(body)",
        "PRAGMA user_version = 7",
    ):
        run(execute, notes, sql)
    run(execute, notes, "INSERT INTO search SELECT body FROM notes")
    hit = run(
        execute,
        notes,
        "SELECT highlight(search, 0, '[', ']') AS h FROM search "
        "WHERE search MATCH 'also' ORDER BY bm25(search)",
    )
    assert hit.scalar() == "[also] kept"
    assert run(execute, notes, "PRAGMA user_version").scalar() == 7
    assert run(execute, notes, "PRAGMA integrity_check").scalar() == "ok"
    columns = run(execute, notes, "SELECT name FROM pragma_table_info('notes')")
    assert [r["name"] for r in columns] == ["id", "body"]
    assert stored(notes)[0] == {"id": 1, "body": "kept"}


def test_a_runaway_recursive_cte_is_stopped_by_the_deadline(sqlite):
    db = DbFace("attacker", backend=sqlite(STATEMENT_TIMEOUT=0.5))
    run(execute, db, "CREATE TABLE n (v INTEGER)")
    runaway = (
        "INSERT INTO n WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
        "SELECT x FROM c"
    )

    async def insert_in_a_session():
        async with db.session() as session:
            await session.execute("INSERT INTO n VALUES (0)")
            await session.execute(runaway)

    started = time.monotonic()
    with pytest.raises(DbTimeout) as caught:
        run(insert_in_a_session)
    assert time.monotonic() - started < 5
    error = caught.value
    assert (error.limit, error.seconds, error.app_id) == (
        "STATEMENT_TIMEOUT",
        0.5,
        "attacker",
    )
    assert "IMPERAL_DB['STATEMENT_TIMEOUT']" in str(error)
    assert "IMPERAL_DB['EXTENSION_OPTIONS']['attacker']" in str(error)
    # The whole session rolled back, and the connection serves the next call.
    assert run(execute, db, "SELECT count(*) FROM n").scalar() == 0


def test_the_deadline_is_per_extension(sqlite):
    backend = sqlite(
        STATEMENT_TIMEOUT=30,
        EXTENSION_OPTIONS={"attacker": {"STATEMENT_TIMEOUT": 0.3}},
    )
    assert backend.timeouts("attacker").statement == 0.3
    assert backend.timeouts("patient").statement == 30
    runaway = (
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
        "SELECT count(*) FROM c"
    )
    with pytest.raises(DbTimeout, match="STATEMENT_TIMEOUT = 0.3 s"):
        run(execute, DbFace("attacker", backend=backend), runaway)
    bounded = runaway.replace("FROM c)", "FROM c WHERE x < 200000)")
    patient = DbFace("patient", backend=backend)
    assert run(execute, patient, bounded).scalar() == 200_000


@pytest.mark.parametrize(
    "expression",
    [
        f"zeroblob({MAX + 1})",
        f"randomblob({MAX + 1})",
        # The classic doubling trick: each replace() multiplies the length.
        f"replace(replace(hex(zeroblob({MAX // 8})), '0', '0000'), '0', '00')",
        f"replace(hex(zeroblob({MAX // 2})), '0', hex(zeroblob({MAX // 2})))",
    ],
)
def test_a_value_over_the_length_limit_is_refused_cleanly(notes, expression):
    with pytest.raises(DbDataError, match=f"{MAX:,} bytes"):
        run(execute, notes, f"INSERT INTO notes (body) SELECT {expression}")
    assert len(stored(notes)) == 2


def test_an_oversized_parameter_or_statement_is_refused_before_it_runs(notes):
    with pytest.raises(DbDataError, match="parameter 1"):
        run(
            execute,
            notes,
            "INSERT INTO notes (body) VALUES (:b)",
            {"b": "x" * (MAX + 1)},
        )
    literal = "'" + "x" * sqlite_guard.MAX_SQL_BYTES + "'"
    with pytest.raises(DbDataError, match="SQLITE_LIMIT_SQL_LENGTH"):
        run(execute, notes, f"INSERT INTO notes (body) VALUES ({literal})")
    assert len(stored(notes)) == 2


def test_quadratic_string_functions_run_in_linear_time(notes):
    """SQLite's own ltrim/instr/replace took minutes on these 1 MB inputs."""
    text = "a" * 1_000_000
    cases = {
        "SELECT length(ltrim(:t, :s)) AS v": {"t": text, "s": "b" * 26_000 + "a"},
        "SELECT instr(:t, :s) AS v": {"t": text, "s": "a" * 500_000 + "b"},
        "SELECT length(replace(:t, :s, 'x')) AS v": {
            "t": text,
            "s": "a" * 500_000 + "b",
        },
    }
    started = time.monotonic()
    results = [
        run(execute, notes, sql, params).scalar() for sql, params in cases.items()
    ]
    assert results == [0, 0, 1_000_000]
    assert time.monotonic() - started < 10


@pytest.mark.parametrize(
    ("sql", "params"),
    [
        ("SELECT instr(:a, :b)", {"a": "héllo wörld", "b": "wö"}),
        ("SELECT instr(:a, :b)", {"a": b"\x00\x01\x02", "b": b"\x02"}),
        ("SELECT instr(:a, :b)", {"a": "abc", "b": ""}),
        ("SELECT instr(:a, :b)", {"a": 12345, "b": 34}),
        ("SELECT instr(:a, :b)", {"a": 1.5, "b": "."}),
        ("SELECT instr(:a, :b)", {"a": None, "b": "x"}),
        ("SELECT replace(:a, :b, :c)", {"a": "a-b-c", "b": "-", "c": "--"}),
        ("SELECT replace(:a, :b, :c)", {"a": "abc", "b": "", "c": "x"}),
        ("SELECT replace(:a, :b, :c)", {"a": 1e20, "b": "0", "c": "1"}),
        ("SELECT replace(:a, :b, :c)", {"a": 0.1 + 0.2, "b": "3", "c": "4"}),
        ("SELECT replace(:a, :b, :c)", {"a": "x", "b": None, "c": "y"}),
        ("SELECT trim(:a, :b)", {"a": "xyhixy", "b": "yx"}),
        ("SELECT ltrim(:a, :b)", {"a": "ééhé", "b": "é"}),
        ("SELECT rtrim(:a, :b)", {"a": 1200, "b": "0"}),
        ("SELECT rtrim(:a, :b)", {"a": "abc", "b": ""}),
        ("SELECT trim(:a, :b)", {"a": None, "b": "x"}),
    ],
)
def test_the_linear_functions_give_sqlites_own_answers(tmp_path, sql, params):
    plain = sqlite3.connect(":memory:")
    guarded = sqlite3.connect(":memory:", factory=sqlite_guard.GuardedConnection)
    guarded.guard()
    expected = plain.execute(sql, params).fetchone()
    assert guarded.execute(sql, params).fetchone() == expected
    assert type(guarded.execute(sql, params).fetchone()[0]) is type(expected[0])


def test_a_temp_table_never_reaches_the_next_caller(sqlite):
    db = DbFace("attacker", backend=sqlite(POOL_SIZE=1))

    async def alice_then_bob():
        async with db.acquire() as alice:
            await alice.execute("CREATE TEMP TABLE scratch (owner TEXT)")
            await alice.execute("INSERT INTO scratch VALUES ('alice')")
        async with db.acquire() as bob:
            return (
                await bob.execute(
                    "SELECT count(*) FROM sqlite_temp_master WHERE name = 'scratch'"
                )
            ).scalar()

    assert run(alice_then_bob) == 0


def test_limits_on_the_statement_shape_hold(notes):
    deep = "SELECT " + " + ".join(["1"] * 600)
    with pytest.raises(DbProgrammingError, match="maximum depth 500"):
        run(execute, notes, deep)
    union = " UNION ALL ".join(["SELECT 1"] * 300)
    with pytest.raises(DbProgrammingError, match="too many terms"):
        run(execute, notes, union)
    assert len(stored(notes)) == 2


def test_migrations_are_held_to_the_same_allow_lists(sqlite):
    backend = sqlite()
    with pytest.raises(DbPermissionError, match="hard_heap_limit"):
        backend.run_script("attacker", "PRAGMA hard_heap_limit = 300000;")
    with pytest.raises(DbError, match="fts3_tokenizer"):
        backend.run_script("attacker", "SELECT fts3_tokenizer('simple');")
    assert process_heap_limits()[0] == 0
