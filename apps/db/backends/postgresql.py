"""ctx.db on PostgreSQL: a schema and a login role of its own for every extension.

The extension's SQL runs on connections that log in as its role, with
``search_path`` set to its schema. The role is NOSUPERUSER NOCREATEDB
NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS and a member of no role, so
it cannot become another role; it holds USAGE and CREATE on its own schema
and nothing else. The schema belongs to the platform, so the extension owns
what it creates inside but cannot drop the schema or open it to others.

Every connection starts with the extension's timeouts (statement, lock,
idle in transaction; IMPERAL_DB, per extension EXTENSION_OPTIONS) and a
read-only default in its startup options, which RESET ALL returns to and
ALTER ROLE cannot override; a connection whose session state may have changed
is reset before it is lent again (apps.db.backends.pg_session). What an
extension's SQL may not do is refused before it runs (pg_guard); a change of
its own role made where no parser sees (SQL built at run time) is noticed and
undone by re-provisioning (pg_connection, :meth:`DatabaseBackend.reassert`).
The platform serializes its own work on rows of ``imperal_ctxdb.locks``, a
table in a schema extension roles have no USAGE on: an advisory lock, whose
key anyone can compute and anyone can take, would let one extension hold up
another's provisioning.
"""

import asyncio
import functools
import json
import logging
import weakref
from contextlib import contextmanager

import psycopg
import sqlparse
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connections
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from apps.common.asyncpool import PoolTimeout, SharedAsyncPool
from apps.db import errors, naming
from apps.db.sql import POSTGRES_STYLE

from . import pg_guard
from .base import BaseBackend
from .pg_connection import PostgresConnection

logger = logging.getLogger(__name__)

_CREATE_ATTRIBUTES = sql.SQL(
    "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS"
)
# ALTER ROLE may not name SUPERUSER/REPLICATION/BYPASSRLS unless the platform
# is a superuser; those three are verified after the fact instead.
_ALTER_ATTRIBUTES = sql.SQL("LOGIN NOCREATEDB NOCREATEROLE NOINHERIT")
_FORBIDDEN_ATTRIBUTES = (
    "rolsuper",
    "rolcreaterole",
    "rolcreatedb",
    "rolinherit",
    "rolreplication",
    "rolbypassrls",
)
_LIBPQ_OPTIONS = {
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "sslpassword",
    "connect_timeout",
    "target_session_attrs",
    "passfile",
    "service",
}
# The platform's re-provisioning can meet a concurrent ALTER ROLE of the same role.
_RESTORE_ATTEMPTS = 3
_CONCURRENTLY_UPDATED = "XX000"
_PASSWORD_REFUSED = "28P01"
_COMMENT_KEY = "imperal_ctx_db"
_LOCK_SCHEMA = "imperal_ctxdb"
_LOCK_TABLE = sql.SQL("{}.locks").format(sql.Identifier(_LOCK_SCHEMA))
_CREATE_LOCK_TABLE = (
    sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(_LOCK_SCHEMA)),
    sql.SQL("REVOKE ALL ON SCHEMA {} FROM PUBLIC").format(sql.Identifier(_LOCK_SCHEMA)),
    sql.SQL("CREATE TABLE IF NOT EXISTS {} (name text PRIMARY KEY)").format(
        _LOCK_TABLE
    ),
)
# Another process creating the lock table at the same moment.
_CREATED_CONCURRENTLY = (
    psycopg.errors.UniqueViolation,
    psycopg.errors.DuplicateSchema,
    psycopg.errors.DuplicateTable,
    psycopg.errors.DuplicateObject,
)
_ERROR_CLASSES = (
    (psycopg.errors.InsufficientPrivilege, errors.DbPermissionError),
    (psycopg.IntegrityError, errors.DbIntegrityError),
    (psycopg.DataError, errors.DbDataError),
    (psycopg.ProgrammingError, errors.DbProgrammingError),
    (psycopg.OperationalError, errors.DbOperationalError),
)


class DatabaseBackend(BaseBackend):
    """Extension schemas and roles in one PostgreSQL database."""

    vendor = "postgresql"
    placeholder_style = POSTGRES_STYLE
    driver_error = psycopg.Error
    _lock_table_ready = False  # checked once per backend (process)

    def __init__(self, options):
        super().__init__(options)
        self._read_committed = weakref.WeakKeyDictionary()  # pooled conn -> bool
        limit = options.get("MEMORY_LIMIT", "64MB")
        try:
            self.memory_limit = pg_guard.parse_memory(limit)
        except ValueError as exc:
            raise ImproperlyConfigured(f"IMPERAL_DB['MEMORY_LIMIT']: {exc}") from None

    # --- names and connection strings -------------------------------------

    def server_conninfo(self):
        """Return the admin connection string: IMPERAL_DB["URL"], else the platform's."""
        if self.options.get("URL"):
            return self.options["URL"]
        params = connections["default"].settings_dict
        extra = {
            key: str(value)
            for key, value in (params.get("OPTIONS") or {}).items()
            if key in _LIBPQ_OPTIONS
        }
        return make_conninfo(
            "",
            dbname=params["NAME"],
            user=params.get("USER") or None,
            password=params.get("PASSWORD") or None,
            host=params.get("HOST") or None,
            port=str(params["PORT"]) if params.get("PORT") else None,
            **extra,
        )

    def database(self):
        """Return the name of the database holding the extension schemas."""
        return conninfo_to_dict(self.server_conninfo())["dbname"]

    def role(self, app_id):
        """Return the login role ``app_id``'s SQL runs as."""
        return naming.role_name(self.options["ROLE_PREFIX"], self.database(), app_id)

    def schema(self, app_id):
        """Return the schema holding ``app_id``'s tables."""
        return naming.schema_name(app_id)

    def extension_conninfo(self, app_id, statement_timeout=None):
        """Return the connection string of ``app_id``'s role; never log it.

        The session starts with the extension's search_path and timeouts;
        ``statement_timeout`` (seconds) replaces STATEMENT_TIMEOUT.
        """
        role, timeouts = self.role(app_id), self.timeouts(app_id)
        if statement_timeout is None:
            statement_timeout = timeouts.statement
        startup = {
            "search_path": self.schema(app_id),
            # Plain reads run read-only; see apps.db.backends.pg_connection.
            "default_transaction_read_only": "on",
            "statement_timeout": _milliseconds(statement_timeout),
            "lock_timeout": _milliseconds(timeouts.lock),
            "idle_in_transaction_session_timeout": _milliseconds(
                timeouts.idle_in_transaction
            ),
        }
        return make_conninfo(
            self.server_conninfo(),
            user=role,
            password=self._password(role),
            options=" ".join(f"-c {key}={value}" for key, value in startup.items()),
            application_name=f"imperal-db:{app_id}"[:63],
        )

    def _password(self, role):
        secret = self.options.get("PASSWORD_SECRET") or settings.SECRET_KEY
        return naming.role_password(secret, role)

    # --- provisioning ---------------------------------------------------------

    def provision(self, app_id):
        """Create or repair ``app_id``'s role and schema; return the role name."""
        role, schema, database = self.role(app_id), self.schema(app_id), self.database()
        with self.translated(), self._admin() as conn:
            self._ensure_lock_table(conn)
            with conn.transaction():
                created = self._provision(conn, app_id, role, schema, database)
        logger.log(
            logging.INFO if created else logging.DEBUG,
            "ctx.db: provisioned role %s and schema %s",
            role,
            schema,
        )
        return role

    def _provision(self, conn, app_id, role, schema, database):
        _lock(conn, f"provision:{role}")
        created = self._ensure_role(conn, app_id, role, database)
        ident = {"role": sql.Identifier(role), "schema": sql.Identifier(schema)}
        for statement in (
            "CREATE SCHEMA IF NOT EXISTS {schema}",
            "REVOKE ALL ON SCHEMA {schema} FROM PUBLIC",
            "GRANT USAGE, CREATE ON SCHEMA {schema} TO {role}",
            "GRANT CONNECT ON DATABASE {database} TO {role}",
            # Settings the role gave itself, anywhere, go.
            "ALTER ROLE {role} RESET ALL",
            "ALTER ROLE {role} IN DATABASE {database} RESET ALL",
            "ALTER ROLE {role} IN DATABASE {database} SET search_path TO {schema}",
        ):
            conn.execute(
                sql.SQL(statement).format(database=sql.Identifier(database), **ident)
            )
        _check_reach(conn, role, schema)
        _check_counts_tracked(conn)
        return created

    def reassert(self, app_id):
        """Restore ``app_id``'s role (password, attributes, settings) after the
        extension may have changed it; raises DbError when that fails."""
        for attempt in range(1, _RESTORE_ATTEMPTS + 1):
            try:
                self.provision(app_id)
                return
            except errors.DbError as exc:
                if (
                    exc.sqlstate != _CONCURRENTLY_UPDATED
                    or attempt == _RESTORE_ATTEMPTS
                ):
                    raise

    def _ensure_role(self, conn, app_id, role, database):
        verifier = conn.pgconn.encrypt_password(
            self._password(role).encode(), role.encode(), b"scram-sha-256"
        ).decode()
        exists = conn.execute(
            "SELECT 1 FROM pg_roles WHERE rolname = %s", [role]
        ).fetchone()
        attributes = _ALTER_ATTRIBUTES if exists else _CREATE_ATTRIBUTES
        verb = "ALTER" if exists else "CREATE"
        # The password travels as a SCRAM verifier, so no statement log holds it.
        conn.execute(
            sql.SQL(verb + " ROLE {} WITH {} PASSWORD {}").format(
                sql.Identifier(role), attributes, sql.Literal(verifier)
            )
        )
        comment = json.dumps({_COMMENT_KEY: {"database": database, "app_id": app_id}})
        conn.execute(
            sql.SQL("COMMENT ON ROLE {} IS {}").format(
                sql.Identifier(role), sql.Literal(comment)
            )
        )
        memberships = conn.execute(
            "SELECT roleid::regrole::text FROM pg_auth_members "
            "WHERE member = %s::regrole",
            [role],
        ).fetchall()
        for (granted,) in memberships:
            conn.execute(
                sql.SQL("REVOKE {} FROM {}").format(
                    sql.Identifier(granted), sql.Identifier(role)
                )
            )
        _check_attributes(conn, role)
        return not exists

    def deprovision(self, app_id):
        """Drop ``app_id``'s schema (with its data) and its role; idempotent."""
        self._close_pool(app_id)
        role, schema = self.role(app_id), self.schema(app_id)
        with self.translated(), self._admin() as conn:
            self._ensure_lock_table(conn)
            with conn.transaction():
                _lock(conn, f"provision:{role}")
                conn.execute(
                    sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                        sql.Identifier(schema)
                    )
                )
                _drop_role(conn, role)

    @contextmanager
    def migration_lock(self, app_id):
        """Hold the row lock on ``app_id``'s migrations (see BaseBackend).

        The lock's transaction stays open while the migrations run on other
        connections, so this session must never be ended for idling.
        """
        with self.translated():
            conn = self._admin(idle_in_transaction_session_timeout=0)
            try:
                self._ensure_lock_table(conn)
                conn.execute("BEGIN")
                _lock(conn, f"migrate:{self.role(app_id)}")
            except BaseException:
                conn.close()
                raise
        try:
            yield
        finally:
            conn.close()  # ends the session, its transaction, and the lock

    def deprovision_all(self):
        """Drop every extension schema and role of this database; return the app_ids."""
        self.close()
        with self.translated(), self._admin() as conn:
            rows = conn.execute(
                "SELECT r.rolname, d.description FROM pg_roles r "
                "JOIN pg_shdescription d ON d.objoid = r.oid "
                "AND d.classoid = 'pg_authid'::regclass"
            ).fetchall()
        app_ids = []
        for _role, comment in rows:
            owner = _comment_owner(comment)
            if owner and owner["database"] == self.database():
                self.deprovision(owner["app_id"])
                app_ids.append(owner["app_id"])
        return app_ids

    def _admin(self, **startup):
        """Return an autocommit connection as the platform, with ``startup`` GUCs."""
        conninfo = self.server_conninfo()
        if startup:
            options = conninfo_to_dict(conninfo).get("options") or ""
            extra = " ".join(f"-c {key}={value}" for key, value in startup.items())
            conninfo = make_conninfo(conninfo, options=f"{options} {extra}".strip())
        return psycopg.connect(conninfo, autocommit=True)

    def _ensure_lock_table(self, conn):
        if self._lock_table_ready:
            return
        found = conn.execute(
            "SELECT to_regclass(%s)", [f"{_LOCK_SCHEMA}.locks"]
        ).fetchone()
        if found[0] is None:
            try:
                with conn.transaction():
                    for statement in _CREATE_LOCK_TABLE:
                        conn.execute(statement)
            except _CREATED_CONCURRENTLY:
                pass
        self._lock_table_ready = True

    # --- connections ----------------------------------------------------------

    async def acheckout(self, app_id, autocommit):
        """Return a PostgresConnection as ``app_id``'s role, on the caller's loop."""
        pool = self._pools.get(app_id)
        if pool is None:
            # Provisioning is blocking admin work, done once per process and app.
            pool = await asyncio.to_thread(self._pool, app_id)
        try:
            conn = await pool.acquire()
        except PoolTimeout as exc:
            raise errors.DbOperationalError(str(exc)) from None
        read_committed = self._read_committed.get(conn, False)
        # Such a session() begins on psycopg's own BEGIN READ ONLY; see
        # PostgresConnection._enter_block.
        own_begin = not autocommit and read_committed
        try:
            if conn.autocommit == own_begin:
                await conn.set_autocommit(not own_begin)
            if own_begin and conn.read_only is not True:
                await conn.set_read_only(True)
        except BaseException:
            pool.discard(conn)
            raise
        return PostgresConnection(
            pool,
            conn,
            self.timeouts(app_id),
            transactional=not autocommit,
            memory_limit=self.memory_limit,
            restore_role=functools.partial(self.reassert, app_id),
            read_committed=read_committed,
        )

    def run_script(self, app_id, script):
        """Run ``script`` as ``app_id``'s role in one transaction (see BaseBackend).

        No STATEMENT_TIMEOUT applies (a file may SET its own); LOCK_TIMEOUT does.
        """
        if not sqlparse.format(script, strip_comments=True).strip():
            return
        refusal = pg_guard.analyze(script, self.memory_limit).refusal
        if refusal:
            raise errors.DbPermissionError(refusal, sqlstate="42501")
        # Migrations are the operator's command: an index build may take long.
        conninfo = self.extension_conninfo(app_id, statement_timeout=0)
        with self.translated():
            with psycopg.connect(conninfo, autocommit=True) as conn:
                conn.execute("SET default_transaction_read_only = off")
                with conn.transaction():
                    conn.execute(script)
        # SQL the file builds at run time may have changed the role.
        self.reassert(app_id)

    def _pool(self, app_id):
        with self._lock:
            if app_id not in self._pools:
                self.provision(app_id)
                self._pools[app_id] = SharedAsyncPool(
                    functools.partial(self._connect, app_id),
                    max_size=self.options["POOL_SIZE"],
                    timeout=self.options["POOL_TIMEOUT"],
                    name=f"ctx.db of extension {app_id!r}",
                )
            return self._pools[app_id]

    async def _connect(self, app_id):
        """Return a new AsyncConnection as ``app_id``'s role.

        A refused password means the role's was changed behind the platform's
        back: it is restored, then the login tried once more.
        """
        conninfo = self.extension_conninfo(app_id)
        try:
            conn = await _connect(conninfo)
        except psycopg.OperationalError as exc:
            if getattr(exc, "sqlstate", None) != _PASSWORD_REFUSED:
                raise
            logger.warning(
                "ctx.db: the role of extension %r refused its password; restoring it",
                app_id,
            )
            await asyncio.to_thread(self.reassert, app_id)
            conn = await _connect(conninfo)
        try:
            cursor = await conn.execute("SHOW default_transaction_isolation")
            isolation = (await cursor.fetchone())[0]
        except BaseException:
            await conn.close()
            raise
        self._read_committed[conn] = isolation == "read committed"
        return conn

    def _close_pool(self, app_id):
        with self._lock:
            pool = self._pools.pop(app_id, None)
        if pool is not None:
            pool.close()

    def translate(self, exc):
        """Return the apps.db.errors exception for psycopg exception ``exc``."""
        sqlstate = getattr(exc, "sqlstate", None)
        for driver_class, error_class in _ERROR_CLASSES:
            if isinstance(exc, driver_class):
                return error_class(str(exc), sqlstate=sqlstate)
        return errors.DbError(str(exc), sqlstate=sqlstate)


def _connect(conninfo):
    return psycopg.AsyncConnection.connect(
        conninfo, autocommit=True, cursor_factory=psycopg.AsyncRawCursor
    )


def _check_counts_tracked(conn):
    # ctx.db notices an extension changing its own role through the catalog
    # tuple counts the server keeps only with track_counts on (its default).
    if conn.execute("SELECT current_setting('track_counts')::bool").fetchone()[0]:
        return
    raise errors.DbOperationalError(
        "the PostgreSQL server has track_counts = off; ctx.db needs it on (the "
        "default) to notice an extension changing its own role"
    )


def _lock(conn, name):
    # Web processes and workers may provision (or migrate) at the same moment.
    # The row lock lasts until the transaction ends.
    conn.execute(
        sql.SQL(
            "INSERT INTO {} (name) VALUES (%s) "
            "ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name"
        ).format(_LOCK_TABLE),
        [name],
    )


def _milliseconds(seconds):
    return 0 if not seconds else max(1, round(seconds * 1000))


def _check_attributes(conn, role):
    row = conn.execute(
        sql.SQL("SELECT {} FROM pg_roles WHERE rolname = %s").format(
            sql.SQL(", ").join(map(sql.Identifier, _FORBIDDEN_ATTRIBUTES))
        ),
        [role],
    ).fetchone()
    granted = [
        name for name, value in zip(_FORBIDDEN_ATTRIBUTES, row, strict=True) if value
    ]
    if granted:
        raise errors.DbPermissionError(
            f"role {role} has {', '.join(granted)}; an extension role must have none "
            "of them (remove them as a superuser)"
        )


_REACH = """
SELECT n.nspname || '.' || c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname NOT IN (%(schema)s, 'pg_catalog', 'information_schema')
  AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
  AND has_schema_privilege(%(role)s, n.oid, 'USAGE')
  AND (has_table_privilege(%(role)s, c.oid, 'SELECT,INSERT,UPDATE,DELETE,TRUNCATE')
       OR (c.relkind = 'S' AND has_sequence_privilege(%(role)s, c.oid, 'USAGE')))
UNION ALL
SELECT 'schema ' || nspname FROM pg_namespace
WHERE nspname <> %(schema)s AND has_schema_privilege(%(role)s, oid, 'CREATE')
ORDER BY 1 LIMIT 20
"""


def _check_reach(conn, role, schema):
    # Privileges granted to PUBLIC reach every role: an operator's GRANT ... TO
    # PUBLIC, or a database whose public schema predates PostgreSQL 15, would
    # open the platform to extensions. Refuse rather than run with it.
    reached = conn.execute(_REACH, {"role": role, "schema": schema}).fetchall()
    if reached:
        names = ", ".join(name for (name,) in reached)
        raise errors.DbPermissionError(
            f"extension role {role} would reach beyond its schema: {names}; "
            "revoke these privileges from PUBLIC"
        )


def _drop_role(conn, role):
    if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone():
        return
    ident = sql.Identifier(role)
    # DROP OWNED needs the role's privileges. A platform that is not a
    # superuser (PostgreSQL 15: CREATEROLE alone) takes them for this
    # transaction; DROP ROLE ends the membership with the role.
    usable = conn.execute("SELECT pg_has_role(%s, 'USAGE')", [role]).fetchone()[0]
    if not usable:
        conn.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(ident))
    conn.execute(sql.SQL("DROP OWNED BY {}").format(ident))
    conn.execute(sql.SQL("DROP ROLE {}").format(ident))


def _comment_owner(comment):
    try:
        owner = json.loads(comment or "").get(_COMMENT_KEY)
    except (ValueError, AttributeError):
        return None
    return owner if isinstance(owner, dict) else None
