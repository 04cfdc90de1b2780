"""The contract every ctx.db backend implements (one backend per module).

A backend module exports ``DatabaseBackend`` (a subclass of BaseBackend) and
the connection class it checks out; ``settings.IMPERAL_DB["BACKEND"]`` names
the module. Backends own isolation (who the SQL runs as, what it can reach)
and translate their driver's exceptions into ``apps.db.errors`` at the edge.
The core (``apps.db.core``) owns parameters, results and transactions.
"""

from contextlib import contextmanager

from apps.db.errors import DbError


class BaseBackend:
    """A database engine that holds one isolated area per extension."""

    #: Selects migration files: ``001_x.<vendor>.sql`` applies to this vendor only.
    vendor = None
    #: Placeholder format for apps.db.sql (POSTGRES_STYLE or SQLITE_STYLE).
    placeholder_style = None
    #: The driver's exception base class, translated by :meth:`translated`.
    driver_error = ()

    def __init__(self, options):
        self.options = options

    # --- methods subclasses must implement ------------------------------------

    def provision(self, app_id):
        """Create, or repair, ``app_id``'s isolated area and identity; idempotent.

        Raises DbError when the platform lacks the rights to do so.
        """
        raise NotImplementedError("subclasses of BaseBackend must provide provision()")

    def deprovision(self, app_id):
        """Drop ``app_id``'s area and identity with all its data; idempotent."""
        raise NotImplementedError(
            "subclasses of BaseBackend must provide deprovision()"
        )

    def checkout(self, app_id, autocommit):
        """Return a BackendConnection acting as ``app_id``, waiting for a free one.

        With ``autocommit`` False the connection is inside a transaction until
        ``commit()`` or ``rollback()``. Raises DbOperationalError when none
        frees up in time.
        """
        raise NotImplementedError("subclasses of BaseBackend must provide checkout()")

    def run_script(self, app_id, script):
        """Run a multi-statement SQL ``script`` as ``app_id`` in one transaction.

        Commits when every statement succeeded; otherwise rolls back and raises
        DbError.
        """
        raise NotImplementedError("subclasses of BaseBackend must provide run_script()")

    def migration_lock(self, app_id):
        """Return a context manager that serializes migration runs of ``app_id``
        across processes."""
        raise NotImplementedError(
            "subclasses of BaseBackend must provide migration_lock()"
        )

    def deprovision_all(self):
        """Drop every extension area of this deployment; return their app_ids."""
        raise NotImplementedError(
            "subclasses of BaseBackend must provide deprovision_all()"
        )

    def translate(self, exc):
        """Return the apps.db.errors exception describing driver exception ``exc``."""
        raise NotImplementedError("subclasses of BaseBackend must provide translate()")

    def close(self):
        """Close every pooled connection; the backend stays usable (pools reopen)."""
        raise NotImplementedError("subclasses of BaseBackend must provide close()")

    # --- shared -----------------------------------------------------------------

    @contextmanager
    def translated(self):
        """Re-raise driver exceptions inside the block as apps.db.errors types."""
        try:
            yield
        except DbError:
            raise
        except self.driver_error as exc:
            raise self.translate(exc) from exc


class BackendConnection:
    """One checked-out connection acting as one extension."""

    def execute(self, text, values):
        """Run ``text`` (numbered placeholders) with ``values``.

        Return ``(column_names, row_tuples, rowcount)``; raise driver errors
        (the core translates them).
        """
        raise NotImplementedError

    def commit(self):
        """Commit the connection's transaction."""
        raise NotImplementedError

    def rollback(self):
        """Roll back the connection's transaction."""
        raise NotImplementedError

    def cancel(self):
        """Ask the database to stop the statement running now; callable from any thread."""
        raise NotImplementedError

    def release(self):
        """Return the connection to its pool (rolled back if a transaction is open)."""
        raise NotImplementedError
