"""The ctx.db core: the configured backend, and connections that bind, run, translate.

Synchronous, like every surface's core; ``apps.db.face`` runs it off the
event loop.
"""

import logging
import threading
from importlib import import_module

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

from .result import Result
from .sql import compile_sql

logger = logging.getLogger(__name__)

_backend = None
_backend_lock = threading.Lock()


def load_backend(options):
    """Return a new DatabaseBackend of the module ``options["BACKEND"]`` names.

    Raises ImproperlyConfigured naming IMPERAL_DB when it cannot be imported.
    """
    dotted = options.get("BACKEND")
    try:
        module = import_module(dotted)
        backend_class = module.DatabaseBackend
    except (ImportError, AttributeError, TypeError, ValueError) as exc:
        raise ImproperlyConfigured(
            f"IMPERAL_DB['BACKEND'] is {dotted!r}, which is not a ctx.db backend "
            f"module exporting DatabaseBackend: {exc}"
        ) from exc
    return backend_class(options)


def get_backend():
    """Return this process's backend, built once from settings.IMPERAL_DB."""
    global _backend
    if _backend is None:
        with _backend_lock:
            if _backend is None:
                _backend = load_backend(settings.IMPERAL_DB)
    return _backend


def close_pools():
    """Close every pooled ctx.db connection; the next use opens new ones."""
    global _backend
    with _backend_lock:
        backend, _backend = _backend, None
    if backend is not None:
        backend.close()


@receiver(setting_changed)
def _forget_backend(setting, **kwargs):
    if setting in ("IMPERAL_DB", "DATABASES", "SECRET_KEY"):
        close_pools()


class Connection:
    """One extension's checked-out connection: autocommit, or one transaction.

    Calls are serialized: the face may finish (roll back) from one thread
    while a cancelled ``execute`` still runs in another.
    """

    def __init__(self, backend, raw, autocommit):
        self._backend = backend
        self._raw = raw
        self._lock = threading.Lock()
        self.autocommit = autocommit

    @classmethod
    def open(cls, backend, app_id, autocommit):
        """Check out a connection acting as ``app_id``; raises DbError."""
        return cls(backend, backend.checkout(app_id, autocommit), autocommit)

    def execute(self, sql, params=None):
        """Run ``sql`` with its ``:name`` parameters from ``params``; return a Result.

        Raises DbParameterError before anything runs when a parameter is
        missing, DbPermissionError when the database refuses, other DbError
        subclasses for the rest.
        """
        compiled = compile_sql(sql, self._backend.placeholder_style)
        values = compiled.bind(params)
        with self._lock, self._backend.translated():
            columns, rows, rowcount = self._raw.execute(compiled.text, values)
        return Result(columns, rows, rowcount)

    def finish(self, commit):
        """End the connection's use: commit (or roll back) a transaction, then release.

        The connection goes back to its pool even when the commit fails;
        raises DbError for that failure.
        """
        with self._lock:
            try:
                with self._backend.translated():
                    if not self.autocommit:
                        self._raw.commit() if commit else self._raw.rollback()
            finally:
                with self._backend.translated():
                    self._raw.release()

    def cancel(self):
        """Ask the database to stop the running statement; never raises."""
        try:
            self._raw.cancel()
        except Exception as exc:  # best effort: the statement may have ended already
            logger.warning("ctx.db: could not cancel a statement: %s", exc)
