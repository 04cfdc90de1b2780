"""The request a piece of work belongs to: its id, its route and the call it runs.

The middleware opens a :class:`RequestScope` per request; the kernel annotates it
with the call it prepares (app, handler, tenant, user), and whatever logs or
records an error reads it back. A context variable carries it, so it follows the
request into ``async_to_sync`` and back (asgiref copies the context both ways).
Outside a request (Celery, the CLI) there is no scope and every reader gets None.
"""

import contextvars
import os
import re
from dataclasses import dataclass

#: What an incoming X-Request-ID must look like to be kept (else a new id is made):
#: the ids proxies and tracing systems send (UUIDs, hex, base64url), nothing that
#: could break a log line or a header.
REQUEST_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+/=-]{0,127}")


@dataclass
class RequestScope:
    """One request: its id and route, and the call the kernel prepared for it."""

    request_id: str
    route: str = ""
    method: str = ""
    tenant_id: str = ""
    user_id: str = ""
    app_id: str = ""
    handler: str = ""


_current = contextvars.ContextVar("imperal_request_scope", default=None)


def request_id_from(sent):
    """Return ``sent`` (an incoming X-Request-ID) when it is a sane id, else a new
    one (32 random hex digits)."""
    if sent and REQUEST_ID_RE.fullmatch(sent):
        return sent
    return os.urandom(16).hex()


def open_scope(request_id, method=""):
    """Make a new RequestScope current; return (the scope, the token to close it)."""
    scope = RequestScope(request_id=request_id, method=method)
    return scope, _current.set(scope)


def close_scope(token):
    """End the scope :func:`open_scope` returned ``token`` for."""
    _current.reset(token)


def current():
    """Return the current RequestScope, or None outside a request."""
    return _current.get()


def annotate_call(app_id, handler, tenant_id, user_id):
    """Note on the current scope (if any) the call the kernel is about to run."""
    scope = _current.get()
    if scope is not None:
        scope.app_id, scope.handler = app_id, handler
        scope.tenant_id, scope.user_id = tenant_id, user_id


def note_caller(tenant_id, user_id):
    """Note on the current scope (if any) who called, unless a call already did."""
    scope = _current.get()
    if scope is not None and not scope.user_id:
        scope.tenant_id, scope.user_id = tenant_id or "", user_id or ""
