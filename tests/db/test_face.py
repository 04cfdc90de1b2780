"""ctx.db's contract, on every backend: transactions, rows, parameters, errors."""

import asyncio
import sqlite3
import time

import psycopg
import pytest

from apps.db.errors import (
    DbError,
    DbIntegrityError,
    DbParameterError,
    DbProgrammingError,
)

from .conftest import execute, run

CREATE = "CREATE TABLE notes (id INTEGER PRIMARY KEY, body VARCHAR(200) NOT NULL)"


def count_notes(notes):
    return run(execute, notes, "SELECT COUNT(*) AS n FROM notes").scalar()


@pytest.fixture
def notes(face):
    notes = face()
    run(execute, notes, CREATE)
    return notes


def test_a_session_commits_when_the_block_succeeds(notes):
    async def write():
        async with notes.session() as session:
            await session.execute(
                "INSERT INTO notes VALUES (:id, :body)", {"id": 1, "body": "a"}
            )
            await session.execute(
                "INSERT INTO notes VALUES (:id, :body)", {"id": 2, "body": "b"}
            )

    run(write)
    assert count_notes(notes) == 2


def test_a_session_rolls_back_when_the_block_raises(notes):
    async def write_then_fail():
        async with notes.session() as session:
            await session.execute("INSERT INTO notes VALUES (1, 'gone')")
            inside = await session.execute("SELECT COUNT(*) FROM notes")
            assert inside.scalar() == 1
            raise RuntimeError("handler failed")

    with pytest.raises(RuntimeError, match="handler failed"):
        run(write_then_fail)
    assert count_notes(notes) == 0


def test_a_failed_statement_rolls_the_whole_session_back(notes):
    async def write_twice():
        async with notes.session() as session:
            await session.execute("INSERT INTO notes VALUES (1, 'first')")
            await session.execute("INSERT INTO notes VALUES (1, 'duplicate')")

    with pytest.raises(DbIntegrityError):
        run(write_twice)
    assert count_notes(notes) == 0


def test_acquire_commits_each_statement_at_once(notes):
    async def write_then_fail():
        async with notes.acquire() as conn:
            await conn.execute("INSERT INTO notes VALUES (1, 'kept')")
            # Another connection sees the row before this block ends.
            assert await count_from_another_connection() == 1
            raise RuntimeError("handler failed")

    async def count_from_another_connection():
        async with notes.acquire() as other:
            return (await other.execute("SELECT COUNT(*) FROM notes")).scalar()

    with pytest.raises(RuntimeError):
        run(write_then_fail)
    assert count_notes(notes) == 1


def test_rows_are_mappings_and_outlive_the_session(notes):
    async def read():
        async with notes.session() as session:
            await session.execute(
                "INSERT INTO notes VALUES (1, 'a'), (2, 'b'), (3, 'c')"
            )
            result = await session.execute(
                "SELECT id, body FROM notes WHERE id >= :low ORDER BY id", {"low": 2}
            )
        return result

    result = run(read)
    assert [dict(r) for r in result] == [{"id": 2, "body": "b"}, {"id": 3, "body": "c"}]
    assert result.first()["body"] == "b"
    assert result.scalar() == 2
    assert result.all() == [{"id": 2, "body": "b"}, {"id": 3, "body": "c"}]
    assert result.columns == ("id", "body")
    assert result.rowcount == 2
    assert len(result) == 2


def test_rowcount_counts_changed_rows_and_empty_results_are_none(notes):
    run(execute, notes, "INSERT INTO notes VALUES (1, 'a'), (2, 'b')")
    updated = run(execute, notes, "UPDATE notes SET body = :b", {"b": "z"})
    assert updated.rowcount == 2
    assert list(updated) == [] and updated.columns == ()
    empty = run(execute, notes, "SELECT id FROM notes WHERE id = :id", {"id": 99})
    assert empty.first() is None and empty.scalar() is None and empty.all() == []


def test_colons_in_literals_and_comments_reach_the_database_untouched(notes):
    result = run(
        execute,
        notes,
        "SELECT ':a' AS lit, '12:30' AS hhmm, :a AS a -- :not_a_param\n/* :neither */",
        {"a": "bound"},
    )
    assert dict(result.first()) == {"lit": ":a", "hhmm": "12:30", "a": "bound"}


def test_a_name_used_twice_is_bound_to_the_same_value(notes):
    run(execute, notes, "INSERT INTO notes VALUES (:n, 'x'), (:n + 1, 'y')", {"n": 7})
    ids = run(
        execute,
        notes,
        "SELECT id FROM notes WHERE id IN (:n, :n + 1) ORDER BY id",
        {"n": 7},
    )
    assert [r["id"] for r in ids] == [7, 8]


def test_a_missing_name_fails_before_anything_runs(notes):
    with pytest.raises(DbParameterError, match=":body"):
        run(execute, notes, "INSERT INTO notes VALUES (:id, :body)", {"id": 1})
    assert count_notes(notes) == 0


def test_driver_errors_arrive_as_ctx_db_errors(notes):
    with pytest.raises(DbProgrammingError) as caught:
        run(execute, notes, "SELECT * FROM no_such_table")
    assert not isinstance(caught.value, psycopg.Error | sqlite3.Error)
    assert isinstance(caught.value.__cause__, psycopg.Error | sqlite3.Error)
    run(execute, notes, "INSERT INTO notes VALUES (1, 'a')")
    with pytest.raises(DbIntegrityError):
        run(execute, notes, "INSERT INTO notes VALUES (1, 'again')")
    with pytest.raises(DbError):
        run(execute, notes, "INSERT INTO notes VALUES (2, NULL)")


def test_a_cancelled_statement_gives_its_connection_back(face, backend):
    notes = face()
    slow = (
        "SELECT pg_sleep(10)"
        if backend.vendor == "postgresql"
        else "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c) "
        "SELECT COUNT(*) FROM c"
    )

    async def cancelled_then_reused():
        with pytest.raises(TimeoutError):
            async with notes.session() as session:
                await asyncio.wait_for(session.execute(slow), 0.3)
        async with notes.acquire() as conn:
            return (await conn.execute("SELECT 1 AS one")).scalar()

    started = time.monotonic()
    assert run(cancelled_then_reused) == 1
    assert time.monotonic() - started < 5


def test_the_context_built_for_a_handler_carries_the_face(use_extensions, alice):
    from apps.accounts.identity import user_context
    from apps.extensions.context import build_context

    ext = use_extensions("extensions/my_app").get("my-app").ext
    ctx = build_context(ext, user_context(alice))
    assert ctx.db.app_id == "my-app"
    assert callable(ctx.db.session) and callable(ctx.db.acquire)


def test_a_begin_left_open_in_acquire_is_rolled_back_on_release(notes):
    async def leave_open():
        async with notes.acquire() as conn:
            await conn.execute("BEGIN")
            await conn.execute("INSERT INTO notes VALUES (1, 'left open')")

    run(leave_open)
    assert count_notes(notes) == 0


def test_connections_are_reused_across_event_loops(face, backend):
    db = face()
    probe = (
        "SELECT pg_backend_pid() AS who"
        if backend.vendor == "postgresql"
        else "SELECT 1 AS who"
    )
    first = run(execute, db, probe).scalar()
    second = run(execute, db, probe).scalar()  # async_to_sync: a new loop
    assert first == second
    assert len(backend._pools["probe-db"]._idle) == 1


def test_a_checkout_waits_for_a_free_connection_then_gives_up(tmp_path, backend):
    from apps.db.core import load_backend
    from apps.db.errors import DbOperationalError
    from apps.db.face import DbFace

    small = load_backend({**backend.options, "POOL_SIZE": 1, "POOL_TIMEOUT": 0.3})
    db = DbFace("probe-db", backend=small)

    async def hold_then_ask():
        async with db.acquire() as held:
            await held.execute("SELECT 1")
            with pytest.raises(DbOperationalError, match="became free within 0.3 s"):
                async with db.acquire():
                    pass
        async with db.acquire() as again:  # the held one came back
            return (await again.execute("SELECT 2 AS two")).scalar()

    try:
        assert run(hold_then_ask) == 2
    finally:
        small.close()
