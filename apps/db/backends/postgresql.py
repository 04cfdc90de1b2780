"""ctx.db on PostgreSQL: a schema and a login role of its own for every extension.

The extension's SQL runs on connections that log in as its role, with
``search_path`` set to its schema. The role is NOSUPERUSER NOCREATEDB
NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS and a member of no role, so
it cannot become another role; it holds USAGE and CREATE on its own schema
and nothing else. The schema belongs to the platform, so the extension owns
what it creates inside but cannot drop the schema or open it to others.
"""

import asyncio
import json
import logging
from contextlib import contextmanager

import psycopg
import sqlparse
from django.conf import settings
from django.db import connections
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.pq import TransactionStatus

from apps.db import naming
from apps.db.errors import (
    DbDataError,
    DbError,
    DbIntegrityError,
    DbOperationalError,
    DbPermissionError,
    DbProgrammingError,
)
from apps.db.sql import POSTGRES_STYLE
from imperal_platform.asyncpool import PoolTimeout, SharedAsyncPool

from .base import BaseBackend

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
_COMMENT_KEY = "imperal_ctx_db"
_ERROR_CLASSES = (
    (psycopg.errors.InsufficientPrivilege, DbPermissionError),
    (psycopg.IntegrityError, DbIntegrityError),
    (psycopg.DataError, DbDataError),
    (psycopg.ProgrammingError, DbProgrammingError),
    (psycopg.OperationalError, DbOperationalError),
)


class DatabaseBackend(BaseBackend):
    """Extension schemas and roles in one PostgreSQL database."""

    vendor = "postgresql"
    placeholder_style = POSTGRES_STYLE
    driver_error = psycopg.Error

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

    def extension_conninfo(self, app_id):
        """Return the connection string of ``app_id``'s role; never log it."""
        role = self.role(app_id)
        return make_conninfo(
            self.server_conninfo(),
            user=role,
            password=self._password(role),
            options=f"-c search_path={self.schema(app_id)}",
            application_name=f"imperal-db:{app_id}"[:63],
        )

    def _password(self, role):
        secret = self.options.get("PASSWORD_SECRET") or settings.SECRET_KEY
        return naming.role_password(secret, role)

    # --- provisioning ---------------------------------------------------------

    def provision(self, app_id):
        """Create or repair ``app_id``'s role and schema; return the role name."""
        role, schema, database = self.role(app_id), self.schema(app_id), self.database()
        with self.translated(), self._admin() as conn, conn.transaction():
            _lock(conn, role)
            created = self._ensure_role(conn, app_id, role, database)
            ident = {"role": sql.Identifier(role), "schema": sql.Identifier(schema)}
            for statement in (
                "CREATE SCHEMA IF NOT EXISTS {schema}",
                "REVOKE ALL ON SCHEMA {schema} FROM PUBLIC",
                "GRANT USAGE, CREATE ON SCHEMA {schema} TO {role}",
                "GRANT CONNECT ON DATABASE {database} TO {role}",
                "ALTER ROLE {role} IN DATABASE {database} SET search_path TO {schema}",
            ):
                conn.execute(
                    sql.SQL(statement).format(
                        database=sql.Identifier(database), **ident
                    )
                )
            _check_reach(conn, role, schema)
        logger.log(
            logging.INFO if created else logging.DEBUG,
            "ctx.db: provisioned role %s and schema %s",
            role,
            schema,
        )
        return role

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
        with self.translated(), self._admin() as conn, conn.transaction():
            _lock(conn, role)
            conn.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                    sql.Identifier(schema)
                )
            )
            _drop_role(conn, role)

    @contextmanager
    def migration_lock(self, app_id):
        """Hold a PostgreSQL advisory lock on ``app_id``'s migrations (see BaseBackend)."""
        with self.translated():
            conn = self._admin()
            key = int(naming.digest("migrate", self.role(app_id)), 16)
            conn.execute("SELECT pg_advisory_lock(%s)", [key])
        try:
            yield
        finally:
            conn.close()  # ends the session, and with it the lock

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

    def _admin(self):
        return psycopg.connect(self.server_conninfo(), autocommit=True)

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
            raise DbOperationalError(str(exc)) from None
        try:
            if conn.autocommit != autocommit:
                await conn.set_autocommit(autocommit)
        except BaseException:
            pool.discard(conn)
            raise
        return PostgresConnection(pool, conn)

    def run_script(self, app_id, script):
        """Run ``script`` as ``app_id``'s role in one transaction (see BaseBackend)."""
        if not sqlparse.format(script, strip_comments=True).strip():
            return
        with self.translated():
            with psycopg.connect(
                self.extension_conninfo(app_id), autocommit=True
            ) as conn:
                with conn.transaction():
                    conn.execute(script)

    def _pool(self, app_id):
        with self._lock:
            if app_id not in self._pools:
                self.provision(app_id)
                conninfo = self.extension_conninfo(app_id)
                self._pools[app_id] = SharedAsyncPool(
                    lambda: psycopg.AsyncConnection.connect(
                        conninfo, autocommit=True, cursor_factory=psycopg.AsyncRawCursor
                    ),
                    max_size=self.options["POOL_SIZE"],
                    timeout=self.options["POOL_TIMEOUT"],
                    name=f"ctx.db of extension {app_id!r}",
                )
            return self._pools[app_id]

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
        return DbError(str(exc), sqlstate=sqlstate)


class PostgresConnection:
    """A pooled psycopg AsyncConnection logged in as one extension's role."""

    __slots__ = ("_pool", "_conn")

    def __init__(self, pool, conn):
        self._pool = pool
        self._conn = conn

    async def execute(self, text, values):
        cursor = self._conn.cursor()
        await cursor.execute(text, values)
        if cursor.description is None:
            return (), [], cursor.rowcount
        columns = [column.name for column in cursor.description]
        return columns, await cursor.fetchall(), cursor.rowcount

    async def end(self, commit):
        try:
            if commit is True:
                await self._conn.commit()
            elif (
                commit is False
                # a BEGIN left open inside acquire()
                or self._conn.info.transaction_status != TransactionStatus.IDLE
            ):
                await self._conn.rollback()
        finally:
            self._pool.release(self._conn)


def _lock(conn, role):
    # Web processes and workers may provision at the same moment.
    conn.execute("SELECT pg_advisory_xact_lock(%s)", [int(naming.digest(role), 16)])


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
        raise DbPermissionError(
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
        raise DbPermissionError(
            f"extension role {role} would reach beyond its schema: {names}; "
            "revoke these privileges from PUBLIC"
        )


def _drop_role(conn, role):
    if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone():
        conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def _comment_owner(comment):
    try:
        owner = json.loads(comment or "").get(_COMMENT_KEY)
    except (ValueError, AttributeError):
        return None
    return owner if isinstance(owner, dict) else None
