"""One borrowed ctx.db connection on PostgreSQL: statements, transaction, release.

Before a statement runs, apps.db.backends.pg_guard refuses what ctx.db never
allows (role changes, large objects, LISTEN/NOTIFY, memory settings over the
limit). What it cannot see, SQL built at run time inside PL/pgSQL, is held
here, where the platform runs the statements:

* Every pooled session starts read-only (``default_transaction_read_only`` in
  its startup options). A statement pg_session deems a plain read runs as it
  is, at no extra cost, in a read-only transaction: whatever it calls, a
  view's function included, can neither write nor change the role.
* Any other statement runs read-write and is accounted for: the role catalogs'
  tuple counts of its own session (pg_session.ROLE_MARK) are read before and
  after it. In ``acquire()`` one statement goes in one pipeline: BEGIN READ
  WRITE, mark, statement, mark, COMMIT (the session stays read-only); a DO,
  CALL, BEGIN/COMMIT or VACUUM makes the session read-write instead, and every
  later statement of the borrow is bracketed the same way. A ``session()``
  is one read-only transaction while it reads; its first write turns it
  into a read-write one whose marks come with its BEGIN and its COMMIT.
* When a mark moved, or when the marks could not bracket a statement (several
  statements in one text, a DO that failed after committing, a connection
  that broke), the platform restores the role's password, attributes and
  settings from its own connection before the borrow ends
  (DatabaseBackend.reassert): a password the extension chose is gone when
  its call ends.
* The reset of a borrow that changed session state also removes the large
  objects the role owns.
"""

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
from psycopg.pq import TransactionStatus

from apps.db.errors import DbPermissionError

from . import pg_guard, pg_session

logger = logging.getLogger(__name__)

# Restores that must not wait for a borrower being cancelled.
_restorers = ThreadPoolExecutor(2, thread_name_prefix="ctx-db-restore")


class PostgresConnection:
    """A pooled psycopg AsyncConnection logged in as one extension's role.

    ``restore_role`` is a blocking callable that puts the role back as the
    platform provisioned it. ``transactional`` makes the borrow one
    transaction (``session()``); otherwise each statement commits.
    """

    __slots__ = (
        "_pool",
        "_conn",
        "_timeouts",
        "_memory_limit",
        "_restore_role",
        "_transactional",
        "_read_committed",
        "_begun",
        "_read_only_block",
        "_block_mark",
        "_writable",
        "_unsettled",
        "_role_touched",
        "_dirty",
        "_cancelled",
        "_last",
    )

    def __init__(
        self,
        pool,
        conn,
        timeouts,
        *,
        transactional,
        memory_limit,
        restore_role,
        read_committed=False,
    ):
        self._pool = pool
        self._conn = conn
        self._timeouts = timeouts
        self._memory_limit = memory_limit
        self._restore_role = restore_role
        self._transactional = transactional
        # The session's default isolation: reads may go first in a block of their own.
        self._read_committed = read_committed
        self._begun = False  # session(): its BEGIN was sent
        self._read_only_block = False  # ... and it began a read-only block
        self._block_mark = None  # ROLE_MARK at that BEGIN, while the block lasts
        self._writable = False  # the session's default was made read-write
        self._unsettled = False  # a write was sent, its marks not yet compared
        self._role_touched = False  # the role may have changed: restore it
        self._dirty = False  # session state may have changed: reset before reuse
        self._cancelled = False  # the watchdog cancelled a statement
        self._last = time.monotonic()  # when the last statement ended

    async def execute(self, text, values):
        """Run one statement; see BackendConnection.

        Raises DbPermissionError when pg_guard refuses it (nothing ran),
        DbTimeout when a timeout stopped it, psycopg errors otherwise.
        """
        facts = pg_guard.analyze(text, self._memory_limit)
        if facts.refusal:
            raise DbPermissionError(facts.refusal, sqlstate="42501")
        if not self._dirty:
            self._dirty = pg_session.may_change_session(text)
        seconds = self._timeouts.statement
        watchdog = (
            pg_session.Watchdog(self._conn, seconds)
            if self._dirty and seconds
            else None
        )
        started = time.monotonic()
        try:
            if self._transactional or self._writable or pg_session.may_write(text):
                return await self._run(text, values, facts)
            cursor = self._conn.cursor()  # a plain read, read-only: nothing to account
            await cursor.execute(text, values)
            return await _result(cursor)
        except psycopg.Error as exc:
            error = self._timeout(exc, started, watchdog)
            if error is not None:
                raise error from exc
            raise
        finally:
            if watchdog is not None:
                await watchdog.stop()
                self._cancelled = self._cancelled or watchdog.fired
            self._last = time.monotonic()
            self._notice_read_write()

    async def _run(self, text, values, facts):
        write = pg_session.may_write(text)
        if self._transactional:
            await self._enter_block(write, facts)
        if self._read_only_block and not (self._idle() and self._conn.autocommit):
            return await self._plain(text, values)  # read-only: cannot touch the role
        if self._in_own_block():
            if facts.ends_block or not facts.parsed:
                # The block's two marks no longer bracket what follows.
                self._role_touched = True
                self._block_mark = None
            return await self._plain(text, values)
        self._block_mark = None
        await self._autocommit()
        if self._writable:
            return await self._accounted(text, values, facts)
        if not write:
            return await self._plain(text, values)  # read-only: cannot touch the role
        if _wrappable(facts) and self._idle():
            return await self._accounted(text, values, facts, wrap=True)
        await self._make_writable()
        return await self._accounted(text, values, facts)

    async def _enter_block(self, write, facts):
        """Begin session()'s transaction: read-only while it only reads.

        Under READ COMMITTED a block of reads followed by a write is two
        transactions (the reads', then the write's); under any stricter
        isolation the block is read-write from its first statement.
        """
        conn = self._conn
        if not self._begun:
            if write or not self._read_committed or conn.autocommit:
                await self._autocommit()
                return await self._begin("BEGIN READ WRITE")
            # psycopg sends BEGIN READ ONLY with the statement (see acheckout).
            self._begun = self._read_only_block = True
        elif self._read_only_block and write and not facts.ends_block:
            status = conn.info.transaction_status
            if status == TransactionStatus.INTRANS:
                await self._begin("COMMIT; BEGIN READ WRITE")
            elif status == TransactionStatus.IDLE:  # the extension ended it itself
                self._read_only_block = False

    async def _autocommit(self):
        """Make psycopg send no BEGIN of its own from here on."""
        if not self._conn.autocommit and self._idle():
            await self._conn.set_autocommit(True)

    async def _begin(self, begin):
        cursor = await self._conn.execute(f"{begin}; {pg_session.ROLE_MARK}")
        while cursor.description is None and cursor.nextset():
            pass  # past COMMIT's and BEGIN's results
        self._block_mark = (await cursor.fetchone())[0]
        self._begun = True
        self._read_only_block = False

    def _idle(self):
        return self._conn.info.transaction_status == TransactionStatus.IDLE

    def _in_own_block(self):
        return self._block_mark is not None and not self._idle()

    async def _make_writable(self):
        await self._conn.execute("SET default_transaction_read_only = off")
        self._writable = self._dirty = True  # the reset makes it read-only again

    async def _plain(self, text, values):
        cursor = self._conn.cursor()
        await cursor.execute(text, values)
        return await _result(cursor)

    async def _accounted(self, text, values, facts, wrap=False):
        """Run ``text`` between two role marks; note when they differ.

        With ``wrap`` the statement runs in a read-write transaction of its
        own, committed in the same round trip: the session stays read-only.
        """
        if facts.standalone:  # VACUUM and the like run no code of the extension
            return await self._plain(text, values)
        if facts.parsed and facts.statements > 1 and not values:
            return await self._accounted_script(text, facts, wrap)
        if not facts.parsed or facts.statements != 1:
            if not facts.parsed or facts.statements:  # an empty text runs nothing
                self._role_touched = True
            return await self._plain(text, values)
        outside_block = self._idle()
        conn = self._conn
        before, cursor, after = conn.cursor(), conn.cursor(), conn.cursor()
        self._unsettled = True
        try:
            async with conn.pipeline():
                if wrap:
                    await conn.cursor().execute("BEGIN READ WRITE", prepare=False)
                await before.execute(pg_session.ROLE_MARK, prepare=False)
                await cursor.execute(text, values)
                await after.execute(pg_session.ROLE_MARK, prepare=False)
                if wrap:
                    await conn.cursor().execute("COMMIT", prepare=False)
        except psycopg.Error:
            if facts.may_commit and outside_block:
                self._role_touched = True  # a DO or CALL may have committed first
            await self._settle_failed(wrap)
            raise
        if (await after.fetchone())[0] != (await before.fetchone())[0]:
            self._role_touched = True
        self._unsettled = False
        return await _result(cursor)

    async def _settle_failed(self, wrap):
        """Note a failed write: rolled back, unless the session broke under it."""
        if self._conn.broken:
            return  # whether it committed is unknown: the role gets restored
        self._unsettled = False
        if wrap and not self._idle():
            await self._conn.rollback()  # the wrapping transaction failed

    async def _accounted_script(self, text, facts, wrap):
        """Run several statements (no parameters) between two role marks.

        One simple query, so no idle moment of the session falls between the
        marks; the result is the first statement's, as for a plain execute.
        """
        begin, commit = ("BEGIN READ WRITE;\n", "\n;COMMIT") if wrap else ("", "")
        mark = pg_session.ROLE_MARK
        self._unsettled = True
        try:
            cursor = await self._conn.execute(
                f"{begin}{mark};\n{text}\n;{mark}{commit}"
            )
        except psycopg.Error:
            if facts.ends_block:
                self._role_touched = True  # it may have committed part of its work
            await self._settle_failed(wrap)
            raise
        if wrap:
            cursor.nextset()
        before = (await cursor.fetchone())[0]
        cursor.nextset()
        result = await _result(cursor)
        for _ in range(facts.statements):
            cursor.nextset()
        if (await cursor.fetchone())[0] != before:
            self._role_touched = True
        self._unsettled = False
        return result

    def _notice_read_write(self):
        # A read may turn the session read-write (set_config() in a view's
        # function); the server reports the setting after every statement.
        if self._writable:
            return
        status = self._conn.pgconn.parameter_status(b"default_transaction_read_only")
        if status != b"on":
            self._writable = self._dirty = True

    async def end(self, commit):
        """Finish the transaction, then lend the connection again (reset if dirty)."""
        conn = self._conn
        try:
            status = conn.info.transaction_status
            if commit is not True and conn.broken:
                pass  # the server ended the session, and rolled back with it
            elif commit is True and self._in_own_block():
                await self._commit_accounted(status)
            elif commit is True:
                await conn.commit()
            elif commit is False or status != TransactionStatus.IDLE:
                await conn.rollback()  # also a BEGIN left open inside acquire()
        except psycopg.OperationalError as exc:
            error = self._idle_timeout(exc)
            if error is not None:
                raise error from exc
            raise
        finally:
            await self._give_back()

    async def _commit_accounted(self, status):
        if status != TransactionStatus.INTRANS:
            await self._conn.rollback()  # a failed transaction commits nothing
            return
        self._unsettled = True  # a COMMIT lost on its way may have been applied
        try:
            cursor = await self._conn.execute(pg_session.ROLE_MARK + "; COMMIT")
        except psycopg.Error:
            await self._settle_failed(wrap=False)
            raise
        if (await cursor.fetchone())[0] != self._block_mark:
            self._role_touched = True
        self._unsettled = False

    async def _give_back(self):
        conn = self._conn
        # A write whose marks were never compared may have changed the role.
        unaccounted = self._role_touched or self._unsettled
        if self._cancelled or conn.broken:
            # A cancel request may still be on its way to the server.
            self._pool.discard(conn)
            return await self._restore(unaccounted)
        if self._dirty:
            try:
                await pg_session.reset(conn)
            except psycopg.Error:
                logger.warning("ctx.db: could not reset a connection; closed it")
                self._pool.discard(conn)
                return await self._restore(unaccounted)
            except BaseException:
                self._pool.discard(conn)
                if unaccounted:
                    _restorers.submit(self._restore_role)
                raise
        self._pool.release(conn)
        await self._restore(unaccounted)

    async def _restore(self, needed):
        if needed:
            logger.warning(
                "ctx.db: %s may have changed its own role; restoring it",
                self._timeouts.app_id,
            )
            await asyncio.to_thread(self._restore_role)

    def _timeout(self, exc, started, watchdog):
        elapsed = time.monotonic() - started
        timeouts = self._timeouts
        if isinstance(exc, psycopg.errors.QueryCanceled):
            if (watchdog is not None and watchdog.fired) or (
                timeouts.statement and elapsed >= timeouts.statement
            ):
                return timeouts.error("STATEMENT_TIMEOUT", exc.sqlstate)
        elif isinstance(exc, psycopg.errors.LockNotAvailable):
            if timeouts.lock and elapsed >= timeouts.lock:
                return timeouts.error("LOCK_TIMEOUT", exc.sqlstate)
        elif isinstance(exc, psycopg.errors.IdleInTransactionSessionTimeout):
            return timeouts.error("IDLE_IN_TRANSACTION_TIMEOUT", exc.sqlstate)
        return None

    def _idle_timeout(self, exc):
        # The server ends an idle transaction's session; the commit finds it gone.
        limit = self._timeouts.idle_in_transaction
        if self._conn.broken and limit and time.monotonic() - self._last >= limit:
            return self._timeouts.error("IDLE_IN_TRANSACTION_TIMEOUT", exc.sqlstate)
        return None


def _wrappable(facts):
    """Return True when ``facts``' statements may run in a transaction of their own.

    A lone DO or CALL may COMMIT, which it cannot inside a transaction block.
    """
    return (
        facts.parsed
        and facts.statements > 0
        and not (facts.standalone or facts.ends_block)
        and (facts.statements > 1 or not facts.may_commit)
    )


async def _result(cursor):
    """Return ``(column_names, row_tuples, rowcount)`` of an executed cursor."""
    if cursor.description is None:
        return (), [], cursor.rowcount
    columns = [column.name for column in cursor.description]
    return columns, await cursor.fetchall(), cursor.rowcount
