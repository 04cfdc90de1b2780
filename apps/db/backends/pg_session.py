"""Session state of pooled PostgreSQL connections: noticed, bounded, reset.

A pooled connection serves many calls, for many users, of one extension.
Whatever one call leaves in the session (``set_config('app.uid', …)``,
``SET``, TEMP tables, prepared statements, WITH HOLD cursors, LISTEN,
session advisory locks, sequence values) must not reach the next call.

``DISCARD ALL`` on every release would cost a round trip per call and drop
psycopg's own prepared statements. Instead a borrow is *dirty* once it runs a
statement that may change session state, and only a dirty borrow is reset
(RESET_SQL, one round trip) before its connection is lent again. A statement
counts as clean only when it is a read (SELECT, WITH, VALUES, TABLE, SHOW,
EXPLAIN) whose words include no data-changing or session-changing keyword and
whose every function call is a built-in that keeps no session state; anything
else (an unknown function may be the extension's own) is dirty. Not seen:
session state changed from inside a view, rule, policy, domain check or
operator the extension defined to do so, or by its function named like a
built-in listed here.

The reset also removes large objects the role owns: ctx.db refuses to
create them (pg_guard), so any there were made by SQL built at run time.
A clean statement is also what may run in a read-only transaction
(``may_write`` adds row-locking reads); ROLE_MARK is how a borrow that writes
is checked for changes to the role (apps.db.backends.pg_connection).

A dirty borrow may also have lifted its own ``statement_timeout`` (``SET``
is allowed), so each of its statements also runs under a client-side
watchdog that cancels it STATEMENT_TIMEOUT + WATCHDOG_GRACE seconds in.
"""

import asyncio
import re
from contextlib import suppress
from functools import lru_cache

import psycopg
from psycopg.pq import TransactionStatus

#: Seconds past STATEMENT_TIMEOUT before the platform cancels a statement itself.
WATCHDOG_GRACE = 1.0
#: Seconds a cancel request may take before it is abandoned.
CANCEL_TIMEOUT = 5.0
_CACHE_SIZE = 1024

# Everything a new session would not have, and the role's large objects;
# schema-qualified, because the extension's schema is on the search_path.
# Runs as one autocommit statement (lo_unlink works in read-only ones).
RESET_SQL = """DO $imperal_reset$
DECLARE
    prepared text;
    large_object oid;
BEGIN
    RESET ALL;
    EXECUTE 'DISCARD TEMP';
    EXECUTE 'DISCARD SEQUENCES';
    EXECUTE 'CLOSE ALL';
    EXECUTE 'UNLISTEN *';
    PERFORM pg_catalog.pg_advisory_unlock_all();
    FOR prepared IN
        SELECT name FROM pg_catalog.pg_prepared_statements WHERE from_sql
    LOOP
        EXECUTE pg_catalog.format('DEALLOCATE %I', prepared);
    END LOOP;
    FOR large_object IN
        SELECT m.oid FROM pg_catalog.pg_largeobject_metadata m
        JOIN pg_catalog.pg_roles r ON r.oid = m.lomowner
        WHERE r.rolname = CURRENT_USER
    LOOP
        PERFORM pg_catalog.lo_unlink(large_object);
    END LOOP;
END
$imperal_reset$"""

# The tuples this backend's transactions changed in pg_authid (a role's
# password, attributes) and pg_db_role_setting (its settings) since its last
# statistics report. The counts only grow between two idle moments of the
# session, so two marks sent in one pipeline or one transaction block bracket
# exactly what ran between them. The catalogs are given by their fixed OIDs.
ROLE_MARK = """SELECT pg_catalog.pg_stat_get_xact_tuples_updated(1260)
    + pg_catalog.pg_stat_get_xact_tuples_inserted(2964)
    + pg_catalog.pg_stat_get_xact_tuples_updated(2964)
    + pg_catalog.pg_stat_get_xact_tuples_deleted(2964)"""

_READS = frozenset({"select", "with", "values", "table", "show", "explain"})
_DIRTY_WORDS = frozenset(
    """
    insert update delete merge into copy truncate analyze analyse
    set reset prepare execute deallocate declare listen unlisten notify discard
    load do call lock temp temporary pg_temp operator
    """.split()
)
# SQL keywords written before a parenthesis, then built-in functions that keep
# no session state. A name missing here only costs a reset.
_CLEAN_CALLS = frozenset(
    """
    select from in exists values any some all as on using over filter within and
    or not where join lateral cast coalesce nullif greatest least row array
    extract position substring overlay trim by rollup cube grouping sets distinct
    limit offset is like ilike when then else case between interval varchar char
    character varying numeric decimal timestamp timestamptz time timetz bit float
    int int2 int4 int8 integer bigint smallint text boolean bool date json jsonb
    uuid real float4 float8
    count sum avg min max bool_and bool_or every array_agg string_agg json_agg
    jsonb_agg json_object_agg jsonb_object_agg stddev stddev_pop stddev_samp
    variance var_pop var_samp corr covar_pop covar_samp percentile_cont
    percentile_disc mode row_number rank dense_rank percent_rank cume_dist ntile
    lag lead first_value last_value nth_value
    lower upper length char_length character_length octet_length bit_length btrim
    ltrim rtrim lpad rpad concat concat_ws replace split_part strpos left right
    reverse repeat initcap format md5 sha224 sha256 sha384 sha512 encode decode
    to_hex ascii chr starts_with regexp_replace regexp_match regexp_matches
    regexp_split_to_array regexp_split_to_table regexp_count regexp_like
    regexp_substr regexp_instr translate quote_ident quote_literal quote_nullable
    string_to_array string_to_table array_to_string to_char to_number to_date
    to_timestamp
    abs ceil ceiling floor round trunc mod power sqrt cbrt exp ln log log10 sign
    random div width_bucket pi degrees radians sin cos tan asin acos atan atan2
    gcd lcm factorial
    now date_trunc date_part date_bin age make_date make_time make_interval
    make_timestamp make_timestamptz clock_timestamp statement_timestamp
    transaction_timestamp timeofday isfinite justify_days justify_hours
    justify_interval
    json_build_object jsonb_build_object json_build_array jsonb_build_array
    json_object jsonb_object to_json to_jsonb array_to_json row_to_json
    json_extract_path jsonb_extract_path json_extract_path_text
    jsonb_extract_path_text jsonb_set jsonb_set_lax jsonb_insert jsonb_strip_nulls
    json_strip_nulls jsonb_pretty json_typeof jsonb_typeof json_array_length
    jsonb_array_length json_array_elements jsonb_array_elements
    json_array_elements_text jsonb_array_elements_text json_each jsonb_each
    json_each_text jsonb_each_text json_object_keys jsonb_object_keys
    jsonb_path_query jsonb_path_exists jsonb_path_match jsonb_path_query_array
    jsonb_path_query_first json_populate_record jsonb_populate_record
    json_populate_recordset jsonb_populate_recordset json_to_record
    jsonb_to_record json_to_recordset jsonb_to_recordset
    array_length array_append array_prepend array_cat array_remove array_replace
    array_position array_positions array_fill array_ndims array_dims array_lower
    array_upper cardinality unnest generate_series generate_subscripts
    gen_random_uuid pg_typeof current_setting current_schema current_schemas
    current_database version pg_backend_pid pg_sleep pg_sleep_for pg_sleep_until
    to_tsvector to_tsquery plainto_tsquery phraseto_tsquery websearch_to_tsquery
    ts_rank ts_rank_cd ts_headline setweight numnode querytree tsvector_to_array
    array_to_tsvector int4range int8range numrange tsrange tstzrange daterange
    lower_inf upper_inf isempty range_merge num_nonnulls num_nulls
    """.split()
)
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")
_CALL = re.compile(r"([A-Za-z_][A-Za-z0-9_$]*)\s*\(")
_LOCKING_CLAUSE = re.compile(
    r"\bfor\s+(?:no\s+key\s+update|update|key\s+share|share)\b", re.IGNORECASE
)
# Unicode-escaped names, quoted (case-kept) or schema-qualified calls, comments
# (which may stand between a name and its parenthesis) and second statements:
# what the database will run is not what the words above show.
_HIDDEN = re.compile(
    r'[uU]&["\']|"\s*\(|\.\s*[A-Za-z_][A-Za-z0-9_$]*\s*\(|/\*|--|;\s*\S'
)


@lru_cache(maxsize=_CACHE_SIZE)
def may_change_session(text):
    """Return True unless the SQL ``text`` is surely a read without session effects."""
    first = _WORD.search(text)
    if first is None or first.group().lower() not in _READS or _HIDDEN.search(text):
        return True
    words = {word.lower() for word in _WORD.findall(_LOCKING_CLAUSE.sub(" ", text))}
    if words & _DIRTY_WORDS:
        return True
    return any(name.lower() not in _CLEAN_CALLS for name in _CALL.findall(text))


@lru_cache(maxsize=_CACHE_SIZE)
def may_write(text):
    """Return True unless ``text`` is surely a read a read-only transaction can run."""
    return may_change_session(text) or _LOCKING_CLAUSE.search(text) is not None


async def reset(conn):
    """Give ``conn`` the session state of a new connection; raises psycopg.Error."""
    if conn.info.transaction_status != TransactionStatus.IDLE:
        await conn.rollback()
    if not conn.autocommit:
        await conn.set_autocommit(True)
    await conn.execute(RESET_SQL, prepare=False)


class Watchdog:
    """Cancels the statement running on ``conn`` once it outlives ``seconds``."""

    __slots__ = ("fired", "_conn", "_handle", "_cancel")

    def __init__(self, conn, seconds):
        self.fired = False
        self._conn = conn
        self._cancel = None
        loop = asyncio.get_running_loop()
        self._handle = loop.call_later(seconds + WATCHDOG_GRACE, self._fire)

    def _fire(self):
        self.fired = True
        self._cancel = asyncio.ensure_future(
            self._conn.cancel_safe(timeout=CANCEL_TIMEOUT)
        )

    async def stop(self):
        """Disarm; when it fired, wait for the cancel request to be delivered."""
        self._handle.cancel()
        if self._cancel is not None:
            with suppress(psycopg.Error):
                await self._cancel
