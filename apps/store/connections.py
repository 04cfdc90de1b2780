"""The store's backends by database vendor, its Django connection, and its errors.

An operation is a generator of statements (see :mod:`apps.store.backends.base`)
driven by :mod:`apps.common.statements`; database errors become store
errors here, at the edge.
"""

import functools
import logging

import psycopg
from django.conf import settings
from django.db import InterfaceError, OperationalError, connections

from apps.common import statements
from apps.common.asyncpool import PoolTimeout
from apps.common.backends import keyed_backend_class

from .errors import StoreFailure, StoreUnavailable
from .query import QueryTooLarge
from .quota import refusal_of

logger = logging.getLogger(__name__)

# SQLite, and psycopg's check of the parameter count, report their limits by
# message only; PostgreSQL by SQLSTATE class.
_LIMIT_MESSAGES = (
    "expression tree is too large",
    "too many sql variables",
    "parser stack overflow",
    "string or blob too big",
    "number of parameters must be between",
)
_PROGRAM_LIMIT_EXCEEDED = "54"
_UNAVAILABLE = (
    PoolTimeout,
    OperationalError,
    InterfaceError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
)


@functools.cache
def backend_for(vendor):
    """Return the StoreBackend for a Django database vendor (one per process).

    Raises ImproperlyConfigured when IMPERAL_STORE["BACKENDS"] has no module
    for ``vendor`` or names one that exports no StoreBackend.
    """
    backend = keyed_backend_class(
        "IMPERAL_STORE['BACKENDS']",
        settings.IMPERAL_STORE["BACKENDS"],
        vendor,
        "StoreBackend",
        chosen_by="the database vendor of DATABASE_URL",
    )
    return backend()


class DjangoConnection:
    """The calling thread's Django connection: it shares the caller's transaction."""

    def __init__(self, alias="default"):
        self.alias = alias
        self.backend = backend_for(connections[alias].vendor)

    def run(self, operation):
        """Drive ``operation`` to its end; return its result or raise its error."""
        return statements.run_on_django(operation, translated, self.alias)


def translated(exc):
    """Return the store error an extension sees for a database error.

    The quota check's refusal (apps.store.quota) is the QuotaExceeded it
    stands for. A statement over the database's own limits (SQLite's expression depth,
    variables or parser stack, string size; PostgreSQL's SQLSTATE class 54) is
    the caller's mistake: QueryTooLarge, a ValueError, not StoreUnavailable.
    """
    refused = refusal_of(exc)
    if refused is not None:
        return refused
    logger.warning("store: database error %s: %s", type(exc).__name__, exc)
    reason = f"{type(exc).__name__}: {str(exc).strip()[:200]}"
    if _over_database_limits(exc):
        return QueryTooLarge(
            "store: the statement is over the database's limits (too many where "
            f"conditions or values, or too large a value) ({reason})"
        )
    if isinstance(exc, _UNAVAILABLE):
        return StoreUnavailable(reason)
    return StoreFailure(f"store: the database refused the operation ({reason})")


def _over_database_limits(exc):
    for error in (exc, exc.__cause__):
        sqlstate = getattr(error, "sqlstate", None)
        if sqlstate and sqlstate.startswith(_PROGRAM_LIMIT_EXCEEDED):
            return True
    text = str(exc).lower()
    return any(message in text for message in _LIMIT_MESSAGES)
