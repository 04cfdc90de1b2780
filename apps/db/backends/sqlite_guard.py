"""What an extension's SQL may do on SQLite: allow-lists, size limits, a deadline.

Every ctx.db connection to an extension's file is a GuardedConnection: an
authorizer allows only the pragmas, SQL functions and virtual-table modules
listed here (anything else, ATTACH included, is refused before it runs);
``sqlite3`` limits bound what one statement may build; a progress handler
stops a statement that runs past its deadline. Allow-lists, not deny-lists:
some pragmas (hard_heap_limit, soft_heap_limit) change the whole process, and
functions like fts3_tokenizer() hand out raw pointers.

A few built-in string functions take time proportional to the product of
their arguments' lengths inside one step, where no progress handler can stop
them (ltrim of 1 MB by a 26 KB character set: minutes); they are replaced by
linear-time versions with the same results.
"""

import sqlite3
import time

from apps.db.errors import DbDataError, DbPermissionError

#: Pragmas that only read, allowed without an argument.
READ_PRAGMAS = frozenset(
    {
        "application_id",
        "auto_vacuum",
        "collation_list",
        "data_version",
        "database_list",
        "encoding",
        "foreign_key_check",
        "foreign_keys",
        "freelist_count",
        "function_list",
        "integrity_check",
        "journal_mode",
        "module_list",
        "page_count",
        "page_size",
        "pragma_list",
        "quick_check",
        "schema_version",
        "synchronous",
        "table_list",
        "user_version",
    }
)
#: Pragmas whose argument names a table or index (or bounds a check): still reads.
#: ``user_version`` is a number in the extension's own file header.
ARGUMENT_PRAGMAS = frozenset(
    {
        "foreign_key_check",
        "foreign_key_list",
        "index_info",
        "index_list",
        "index_xinfo",
        "integrity_check",
        "quick_check",
        "table_info",
        "table_list",
        "table_xinfo",
        "user_version",
    }
)
#: SQLite's core scalar, aggregate, date/time, math, JSON and window functions,
#: FTS's auxiliary functions, and the ones ALTER TABLE calls internally (not
#: callable from an extension's SQL). Names of newer SQLite releases are
#: included so an upgrade does not take them away.
FUNCTIONS = frozenset(
    """
    abs changes char coalesce concat concat_ws format glob hex ifnull iif instr
    last_insert_rowid length like likelihood likely lower ltrim max min nullif
    octet_length printf quote random randomblob replace round rtrim sign soundex
    sqlite_version substr substring total_changes trim typeof unhex unicode
    unlikely upper zeroblob
    avg count group_concat string_agg sum total
    date time datetime julianday unixepoch strftime timediff
    current_date current_time current_timestamp
    acos acosh asin asinh atan atan2 atanh ceil ceiling cos cosh degrees exp floor
    ln log log10 log2 mod pi pow power radians sin sinh sqrt tan tanh trunc
    row_number rank dense_rank percent_rank cume_dist ntile lag lead first_value
    last_value nth_value
    json json_array json_array_length json_error_position json_extract json_insert
    json_object json_patch json_pretty json_quote json_remove json_replace json_set
    json_type json_valid json_group_array json_group_object -> ->>
    jsonb jsonb_array jsonb_extract jsonb_insert jsonb_object jsonb_patch
    jsonb_remove jsonb_replace jsonb_set jsonb_group_array jsonb_group_object
    match snippet offsets matchinfo highlight bm25
    sqlite_rename_column sqlite_rename_table sqlite_rename_test
    sqlite_rename_quotefix sqlite_drop_column
    """.split()
)
#: Virtual-table modules CREATE VIRTUAL TABLE may use: full-text search and R-trees.
MODULES = frozenset({"fts3", "fts4", "fts5", "fts5vocab", "rtree"})

#: Bytes in one string, blob or row (SQLITE_LIMIT_LENGTH); SQLite's default is 1 GB.
MAX_VALUE_BYTES = 16 * 1024 * 1024
#: Bytes of one statement's SQL text (SQLITE_LIMIT_SQL_LENGTH).
MAX_SQL_BYTES = 1_000_000
#: Bytes of one migration file, run as one script by migrate_extensions.
MAX_MIGRATION_SQL_BYTES = 16 * 1024 * 1024
LIMITS = {
    sqlite3.SQLITE_LIMIT_LENGTH: MAX_VALUE_BYTES,
    sqlite3.SQLITE_LIMIT_SQL_LENGTH: MAX_SQL_BYTES,
    sqlite3.SQLITE_LIMIT_COLUMN: 1000,  # columns in a table, index or result
    sqlite3.SQLITE_LIMIT_EXPR_DEPTH: 500,  # parse tree depth (SQLite: 1000)
    sqlite3.SQLITE_LIMIT_COMPOUND_SELECT: 250,  # terms of a UNION chain (500)
    sqlite3.SQLITE_LIMIT_VDBE_OP: 250_000,  # instructions in one compiled statement
    sqlite3.SQLITE_LIMIT_FUNCTION_ARG: 100,  # arguments of one function call (127)
    sqlite3.SQLITE_LIMIT_ATTACHED: 0,  # no ATTACH, which VACUUM INTO needs too
    sqlite3.SQLITE_LIMIT_LIKE_PATTERN_LENGTH: 1000,  # bytes of a LIKE/GLOB pattern
    sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER: 10_000,  # ?NNN placeholders
    sqlite3.SQLITE_LIMIT_TRIGGER_DEPTH: 32,  # nested (recursive) trigger levels
    sqlite3.SQLITE_LIMIT_WORKER_THREADS: 0,  # a statement uses its caller's thread
}
#: VM instructions between two deadline checks (a few microseconds of work).
PROGRESS_EVERY = 1000
_QUOTED_MAX = 60  # characters of a refused argument quoted in an error


class GuardedConnection(sqlite3.Connection):
    """A sqlite3 connection that remembers why it refused and when to stop."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.refusal = ""
        self.deadline = None  # time.monotonic() past which statements stop
        self.timed_out = False
        self.too_big = False  # a linear replacement refused to build a huge value

    def guard(self, max_sql_bytes=MAX_SQL_BYTES):
        """Install the authorizer, limits, linear functions and deadline check."""
        for category, value in LIMITS.items():
            self.setlimit(category, value)
        self.setlimit(sqlite3.SQLITE_LIMIT_SQL_LENGTH, max_sql_bytes)
        for name, arity, function in _LINEAR_FUNCTIONS:
            self.create_function(
                name, arity, self._bounded(function), deterministic=True
            )
        self.set_authorizer(self._authorize)
        self.set_progress_handler(self._progress, PROGRESS_EVERY)

    def start(self, seconds):
        """Forget the last refusal; give the next statement ``seconds`` (0: none)."""
        self.refusal = ""
        self.timed_out = self.too_big = False
        self.deadline = time.monotonic() + seconds if seconds else None

    def stop(self):
        """End the statement's deadline (commits and rollbacks are never stopped)."""
        self.deadline = None

    def _bounded(self, function):
        def call(*args):
            try:
                return function(*args)
            except _TooBig:
                self.too_big = True
                raise

        return call

    def _progress(self):
        if self.deadline is not None and time.monotonic() > self.deadline:
            self.timed_out = True
            return 1
        return 0

    def _authorize(self, action, arg1, arg2, dbname, source):
        refusal = _refusal(action, arg1, arg2)
        if refusal:
            self.refusal = refusal
            return sqlite3.SQLITE_DENY
        return sqlite3.SQLITE_OK


def _refusal(action, arg1, arg2):
    if action in (sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH):
        return "ATTACH and DETACH are not allowed: an extension has one database file"
    if action == sqlite3.SQLITE_PRAGMA:
        return _pragma_refusal((arg1 or "").lower(), arg2)
    if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() not in FUNCTIONS:
        return f"function {_quoted(arg2)}() is not on ctx.db's allow-list of functions"
    if action in (sqlite3.SQLITE_CREATE_VTABLE, sqlite3.SQLITE_DROP_VTABLE):
        if (arg2 or "").lower() not in MODULES:
            return (
                f"virtual table module {_quoted(arg2)} is not allowed "
                f"(allowed: {', '.join(sorted(MODULES))})"
            )
    return ""


def _pragma_refusal(name, argument):
    if argument is None and name in READ_PRAGMAS:
        return ""
    if argument is not None and name in ARGUMENT_PRAGMAS:
        return ""
    shown = name if argument is None else f"{name} = {_quoted(argument)}"
    return (
        f"PRAGMA {shown} is not on ctx.db's allow-list (it could change the "
        "connection or the whole process); allowed to read: "
        f"{', '.join(sorted(READ_PRAGMAS))}; with an argument: "
        f"{', '.join(sorted(ARGUMENT_PRAGMAS))}"
    )


def _quoted(value):
    text = str(value)
    return text if len(text) <= _QUOTED_MAX else text[:_QUOTED_MAX] + "…"


def refused(conn, exc, timeouts):
    """Return the ctx.db error for sqlite3 exception ``exc`` raised on ``conn``.

    Returns None when ``exc`` is none of the guard's refusals (the backend's
    translate() then describes it).
    """
    if conn.refusal:
        return DbPermissionError(f"permission denied: not authorized: {conn.refusal}")
    if conn.timed_out:
        return timeouts.error("STATEMENT_TIMEOUT")
    if conn.too_big or getattr(exc, "sqlite_errorcode", None) == _SQLITE_TOOBIG:
        return too_big()
    return None


def too_big(detail="a string or blob"):
    """Return the DbDataError for a value over MAX_VALUE_BYTES."""
    return DbDataError(
        f"{detail} is longer than ctx.db's limit of {MAX_VALUE_BYTES:,} bytes "
        "on SQLite (SQLITE_LIMIT_LENGTH); nothing was written"
    )


def check_sql(text, max_bytes=MAX_SQL_BYTES):
    """Raise DbDataError when the SQL text ``text`` is over ``max_bytes``."""
    if len(text) * 4 > max_bytes:
        size = len(text.encode("utf-8", "surrogatepass"))
        if size > max_bytes:
            raise DbDataError(
                f"the SQL statement is {size:,} bytes, over ctx.db's limit of "
                f"{max_bytes:,} bytes on SQLite (SQLITE_LIMIT_SQL_LENGTH); pass "
                "large values as :name parameters; nothing ran"
            )


def check_values(values):
    """Raise DbDataError when a bound value exceeds MAX_VALUE_BYTES."""
    for position, value in enumerate(values, 1):
        if isinstance(value, str) and len(value) * 4 > MAX_VALUE_BYTES:
            size = len(value.encode("utf-8", "surrogatepass"))
        elif isinstance(value, bytes | bytearray | memoryview):
            size = len(value)
        else:
            continue
        if size > MAX_VALUE_BYTES:
            raise too_big(f"parameter {position} ({size:,} bytes)")


_SQLITE_TOOBIG = 18


# --- linear-time replacements of quadratic built-ins ---------------------------


def _text(value):
    """Return ``value`` as SQLite renders it as TEXT (numbers included)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, float):
        return _real_text(value)
    return str(value)


def _real_text(value):
    # SQLite prints a REAL with "%!.15g": 15 significant digits, always a ".".
    if value != value:
        return None
    if value in (float("inf"), float("-inf")):
        return "Inf" if value > 0 else "-Inf"
    text = f"{value:.15g}"
    mantissa, _, exponent = text.partition("e")
    if "." not in mantissa:
        mantissa += ".0"
    return mantissa + ("e" + exponent if exponent else "")


def _instr(haystack, needle):
    if haystack is None or needle is None:
        return None
    if isinstance(haystack, bytes) and isinstance(needle, bytes):
        return haystack.find(needle) + 1
    return _text(haystack).find(_text(needle)) + 1


class _TooBig(ValueError):
    """A replacement function's result would exceed MAX_VALUE_BYTES."""


def _replace(text, old, new):
    if text is None or old is None or new is None:
        return None
    text, old, new = _text(text), _text(old), _text(new)
    if not old:
        return text
    # Measured before building it: the result may be far beyond memory.
    grows_by = len(new) - len(old)
    if grows_by > 0 and len(text) + text.count(old) * grows_by > MAX_VALUE_BYTES:
        raise _TooBig("replace() result")
    return text.replace(old, new)


def _trimmer(strip_start, strip_end):
    def trim(text, characters):
        if text is None or characters is None:
            return None
        text, remove = _text(text), set(_text(characters))
        start, end = 0, len(text)
        while strip_start and start < end and text[start] in remove:
            start += 1
        while strip_end and end > start and text[end - 1] in remove:
            end -= 1
        return text[start:end]

    return trim


_LINEAR_FUNCTIONS = (
    ("instr", 2, _instr),
    ("replace", 3, _replace),
    ("trim", 2, _trimmer(True, True)),
    ("ltrim", 2, _trimmer(True, False)),
    ("rtrim", 2, _trimmer(False, True)),
)
