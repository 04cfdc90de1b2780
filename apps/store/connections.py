"""The synchronous driver: runs the core's operations on a Django connection.

An operation is a generator of statements (see :mod:`apps.store.backends.base`);
this driver executes each on the calling thread's Django connection, so it
shares the caller's transaction. Database errors become store errors here.
"""

import logging

import psycopg
from django.core.exceptions import ImproperlyConfigured
from django.db import (
    DatabaseError,
    InterfaceError,
    OperationalError,
    connections,
    transaction,
)

from imperal_platform.asyncpool import PoolTimeout

from .backends.base import BEGIN, COMMIT
from .backends.postgresql import PostgreSQLBackend
from .backends.sqlite import SQLiteBackend
from .errors import StoreFailure, StoreUnavailable

logger = logging.getLogger(__name__)

BACKENDS = {"postgresql": PostgreSQLBackend(), "sqlite": SQLiteBackend()}
_UNAVAILABLE = (
    PoolTimeout,
    OperationalError,
    InterfaceError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
)


def backend_for(vendor):
    """Return the StoreBackend of a Django database vendor; ImproperlyConfigured if none."""
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

    def run(self, operation):
        """Drive ``operation`` to its end; return its result or raise its error."""
        blocks, reply = [], None
        try:
            while True:
                try:
                    request = operation.send(reply)
                except StopIteration as stop:
                    return stop.value
                reply = self._perform(request, blocks)
        except DatabaseError as exc:
            _unwind(blocks, exc)
            raise translated(exc) from exc
        except BaseException as exc:
            _unwind(blocks, exc)
            raise
        finally:
            operation.close()

    def _perform(self, request, blocks):
        if request == BEGIN:
            blocks.append(transaction.atomic(using=self.alias))
            blocks[-1].__enter__()
            return None
        if request == COMMIT:
            blocks.pop().__exit__(None, None, None)
            return None
        with connections[self.alias].cursor() as cursor:
            cursor.execute(*request)
            return cursor.fetchall() if cursor.description else []


def _unwind(blocks, exc):
    while blocks:
        blocks.pop().__exit__(type(exc), exc, exc.__traceback__)


def translated(exc):
    """Return the store error an extension sees for a database error."""
    logger.warning("store: database error %s: %s", type(exc).__name__, exc)
    reason = f"{type(exc).__name__}: {str(exc).strip()[:200]}"
    if isinstance(exc, _UNAVAILABLE):
        return StoreUnavailable(reason)
    return StoreFailure(f"store: the database refused the operation ({reason})")
