"""Where the store's SQL runs: Django's connection, or a worker thread's own connection.

Both translate every database error into the store's errors at this edge.
"""

import contextlib
import logging

import psycopg
from django.db import (
    DatabaseError,
    InterfaceError,
    OperationalError,
    connections,
    transaction,
)

from .backends.postgresql import PostgreSQLBackend
from .backends.sqlite import SQLiteBackend
from .errors import StoreFailure, StoreUnavailable

logger = logging.getLogger(__name__)

BACKENDS = {"postgresql": PostgreSQLBackend(), "sqlite": SQLiteBackend()}


def backend_for(vendor):
    """Return the StoreBackend of a Django database vendor; ImproperlyConfigured if none."""
    from django.core.exceptions import ImproperlyConfigured

    try:
        return BACKENDS[vendor]
    except KeyError:
        raise ImproperlyConfigured(
            f"ctx.store supports PostgreSQL and SQLite, not {vendor!r} (DATABASE_URL)"
        ) from None


class DjangoConnection:
    """The calling thread's Django connection: it shares the caller's transaction."""

    def __init__(self, alias="default"):
        self.alias = alias
        self.backend = backend_for(connections[alias].vendor)

    def execute(self, sql, params):
        """Run one statement; return its rows ([] when it returns none)."""
        try:
            with connections[self.alias].cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchall() if cursor.description else []
        except DatabaseError as exc:
            raise _translated_error(exc) from exc

    def atomic(self):
        """Return a context manager running its block in one transaction."""
        return _translated(transaction.atomic(using=self.alias))


class WorkerConnection:
    """A psycopg connection owned by one store worker thread (PostgreSQL only).

    Autocommit, server-side binding and prepared statements: the store's
    statements are few and repeat, so preparing them saves the parse and plan
    on every call.
    """

    backend = BACKENDS["postgresql"]
    prepare_threshold = 2

    def __init__(self, alias="default"):
        params = connections[alias].get_connection_params()
        params.update(
            autocommit=True,
            cursor_factory=psycopg.Cursor,
            prepare_threshold=self.prepare_threshold,
        )
        try:
            self.raw = psycopg.connect(**params)
        except psycopg.Error as exc:
            raise _translated_error(exc) from exc

    @property
    def usable(self):
        return not self.raw.closed and not self.raw.broken

    def execute(self, sql, params):
        """Run one statement; return its rows ([] when it returns none)."""
        try:
            cursor = self.raw.execute(sql, params)
            return cursor.fetchall() if cursor.description else []
        except psycopg.Error as exc:
            raise _translated_error(exc) from exc

    def atomic(self):
        """Return a context manager running its block in one transaction."""
        return _translated(self.raw.transaction())

    def close(self):
        self.raw.close()


@contextlib.contextmanager
def _translated(manager):
    try:
        with manager:
            yield
    except (DatabaseError, psycopg.Error) as exc:
        raise _translated_error(exc) from exc


_UNAVAILABLE = (
    OperationalError,
    InterfaceError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
)


def _translated_error(exc):
    """Return the store error an extension sees for a database error."""
    logger.warning("store: database error %s: %s", type(exc).__name__, exc)
    reason = f"{type(exc).__name__}: {str(exc).strip()[:200]}"
    if isinstance(exc, _UNAVAILABLE):
        return StoreUnavailable(reason)
    return StoreFailure(f"store: the database refused the operation ({reason})")
