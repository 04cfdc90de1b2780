"""The ctx.db core: the configured backend, and connections that bind, run, translate.

Binding (apps.db.sql), results (apps.db.result) and error translation are
plain synchronous code shared by every backend; only the I/O is awaited, so a
backend with a native async driver (PostgreSQL) runs on the caller's event
loop and one without (SQLite) runs on threads (backends.base).
"""

import os
import threading

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from apps.common.backends import backend_class
from apps.common.telemetry import tracing

from .result import Result
from .sql import compile_sql

_backend = None
_backend_lock = threading.Lock()


def load_backend(options):
    """Return a new DatabaseBackend of the module ``options["BACKEND"]`` names.

    Raises ImproperlyConfigured naming IMPERAL_DB when it cannot be imported.
    """
    cls = backend_class(
        "IMPERAL_DB['BACKEND']", options.get("BACKEND"), "DatabaseBackend"
    )
    return cls(options)


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


def _forget_inherited_pools():
    # A forked child (Celery's prefork pool) shares its parent's sockets: it
    # must neither use nor close them, only open its own.
    global _backend, _backend_lock
    _backend, _backend_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_inherited_pools)


@receiver(setting_changed)
def _forget_backend(setting, **kwargs):
    if setting in ("IMPERAL_DB", "DATABASES", "SECRET_KEY"):
        close_pools()


class ExtensionConnections:
    """Check out connections acting as one extension, and do nothing else.

    What ctx.db holds instead of the backend: the backend also provisions,
    drops and connects as every extension, so no public name of this handle
    returns it. ``backend`` None means this process's backend, looked up at
    each checkout (a settings change replaces it).
    """

    __slots__ = ("_app_id", "_backend")

    def __init__(self, app_id, backend=None):
        self._app_id = app_id
        self._backend = backend

    @property
    def app_id(self):
        """The extension every connection of this handle acts as."""
        return self._app_id

    async def open(self, autocommit):
        """Return a Connection acting as this handle's extension; raises DbError."""
        return await Connection.open(
            self._backend or get_backend(), self._app_id, autocommit
        )

    def __repr__(self):
        return f"<ctx.db connections of {self._app_id}>"


class Connection:
    """One extension's checked-out connection: autocommit, or one transaction."""

    def __init__(self, backend, raw, autocommit):
        self._backend = backend
        self._raw = raw
        self.autocommit = autocommit

    @classmethod
    async def open(cls, backend, app_id, autocommit):
        """Check out a connection acting as ``app_id``; raises DbError."""
        with backend.translated():
            raw = await backend.acheckout(app_id, autocommit)
        return cls(backend, raw, autocommit)

    async def execute(self, sql, params=None):
        """Run ``sql`` with its ``:name`` parameters from ``params``; return a Result.

        Raises DbParameterError before anything runs when a parameter is
        missing, DbPermissionError when the database refuses, other DbError
        subclasses for the rest.
        """
        compiled = compile_sql(sql, self._backend.placeholder_style)
        values = compiled.bind(params)
        # The span carries neither the SQL text nor its values.
        with tracing.span("ctx.db execute", **{"db.system": self._backend.vendor}):
            with self._backend.translated():
                columns, rows, rowcount = await self._raw.execute(compiled.text, values)
        return Result(columns, rows, rowcount)

    async def finish(self, commit):
        """Commit (``commit`` true) or roll back a transaction, then release.

        The connection goes back to its pool even when the commit fails;
        raises DbError for that failure.
        """
        with self._backend.translated():
            await self._raw.end(None if self.autocommit else bool(commit))
