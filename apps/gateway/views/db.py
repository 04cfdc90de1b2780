"""``POST /v1/internal/db/…``: ctx.db of an isolated worker, run by the platform.

The worker's ``ctx.db`` (apps/runtime/worker/db.py) sends each statement here
with the invocation's call token, the only credential accepted; the relay
(:mod:`apps.db.relay`) runs it through the ctx.db core as the token's
extension — its own PostgreSQL role and schema, or its own SQLite file — so
the database refuses exactly what it refuses in-process.

=====================================  ============================================
route, body                            answer
=====================================  ============================================
``execute`` ``{sql, params?}``         a statement, committed: the result
``begin`` ``{}``                       ``{session, idle_timeout, keepalive}``: a
                                       transaction
``execute`` ``{sql, params?, session}`` a statement in that transaction: the result
``commit`` / ``rollback`` ``{session}`` ``{"committed": true}`` / ``{"rolled_back": true}``
``ping`` ``{session}``                  ``{"held": bool}``; not a use of the session
=====================================  ============================================

A worker pings an idle session every ``keepalive`` seconds
(IMPERAL_DB["WORKER_KEEPALIVE"]), so the web server does not close the
connection its requests share.

A result is ``{columns, rows, rowcount, scalar}``: ``rows`` are lists in
``columns`` order, every value in the form of :mod:`apps.runtime.worker.dbwire`
(parameters use it too). A session lives in the gateway process that opened
it and belongs to the call token that opened it; any other request naming it
gets 409 ``session_not_held``. A ctx.db error is the one error shape whose
``detail`` names the error's class (``{"error": "DbIntegrityError",
"sqlstate": "23505"}``; a DbTimeout adds ``limit``, ``seconds``, ``app_id``):
``invalid_argument`` 400 (parameters, SQL, data), ``forbidden`` 403,
``conflict`` 409 (a constraint), ``unavailable`` 503 (timeouts, the database,
the session limit), ``internal`` 500 (any other DbError, message kept).
"""

import logging

from rest_framework.exceptions import MethodNotAllowed
from rest_framework.response import Response

from apps.accounts.security import record_threat
from apps.common.errors import HTTP_STATUS, without_credentials
from apps.common.http import error_body
from apps.db.errors import DbError, DbOperationalError, DbSessionNotHeld, DbTimeout
from apps.db.relay import Owner, get_relay, keepalive_seconds
from apps.runtime.worker import dbwire

from .. import wire
from ..authentication import CallTokenAuthentication
from ..identity import acting_partition
from .base import GatewayView

logger = logging.getLogger(__name__)

SESSION_ID_MAX_CHARS = 100


class InvalidDbRequest(ValueError):
    """The body does not describe a ctx.db request; the message names the field."""

    code = "invalid_params"


class DbRelayView(GatewayView):
    """What every ctx.db route shares: a call token, POST, errors by class."""

    authentication_classes = [CallTokenAuthentication]
    http_method_names = ["post"]

    def initial(self, request, *args, **kwargs):
        # A method the route lacks is a 405 whoever asks, before the 401.
        if request.method.lower() not in self.http_method_names:
            raise MethodNotAllowed(request.method)
        super().initial(request, *args, **kwargs)
        # Read before anything may refuse: a body left unread makes the server
        # close the connection, and a session's next request would then reach
        # whichever process takes the new one.
        self.body = wire.body_of(request)
        acting_partition(request, {})  # refuses another extension or tenant named

    def handle_exception(self, exc):
        if isinstance(exc, DbError):
            return self.db_error_response(exc)
        return super().handle_exception(exc)

    def db_error_response(self, exc):
        """Return the one error shape for a ctx.db error, naming its class."""
        code = exc.code
        if code == "internal" and isinstance(exc, DbOperationalError):
            code = "unavailable"
        if code == "internal":
            logger.warning("ctx.db of a worker: %s", type(exc).__name__)
        if isinstance(exc, DbSessionNotHeld) and exc.foreign:
            identity = self.request.user
            record_threat(
                "db_session_foreign",
                identity.own_partition(),
                credential=identity.credential,
            )
        detail = {"error": type(exc).__name__, "sqlstate": exc.sqlstate}
        if isinstance(exc, DbTimeout):
            detail.update(limit=exc.limit, seconds=exc.seconds, app_id=exc.app_id)
        response = Response(
            error_body(code, without_credentials(exc), detail),
            status=HTTP_STATUS[code],
        )
        if getattr(exc, "retry_after", None):
            response["Retry-After"] = str(exc.retry_after)
        return response


class Execute(DbRelayView):
    """``POST /v1/internal/db/execute``: one statement, alone or in a session."""

    def post(self, request):
        body = self.body
        sql, params = body.get("sql"), params_of(body.get("params"))
        if body.get("session") is None:
            result = get_relay().execute(request.user.app_id, sql, params)
        else:
            session_id = session_of(body)
            result = get_relay().execute_in(session_id, owner_of(request), sql, params)
        return Response(result_json(result))


class Begin(DbRelayView):
    """``POST /v1/internal/db/begin``: open a transaction held for this invocation."""

    def post(self, request):
        identity = request.user
        session_id, idle = get_relay().begin(owner_of(request), identity.expires_at)
        return Response(
            {
                "session": session_id,
                "idle_timeout": idle,
                "keepalive": keepalive_seconds(),
            }
        )


class Ping(DbRelayView):
    """``POST /v1/internal/db/ping``: keep a session's connection open; not a use."""

    def post(self, request):
        session_id = session_of(self.body)
        return Response({"held": get_relay().holds(session_id, owner_of(request))})


class Commit(DbRelayView):
    """``POST /v1/internal/db/commit``: commit a session and release it."""

    def post(self, request):
        session_id = session_of(self.body)
        get_relay().end(session_id, owner_of(request), commit=True)
        return Response({"committed": True})


class Rollback(DbRelayView):
    """``POST /v1/internal/db/rollback``: roll a session back and release it."""

    def post(self, request):
        session_id = session_of(self.body)
        get_relay().end(session_id, owner_of(request), commit=False)
        return Response({"rolled_back": True})


def owner_of(request):
    """Return the relay Owner of a call-token request: app, user, token id."""
    identity = request.user
    return Owner(identity.app_id, identity.user_id, identity.token_id)


def session_of(body):
    """Return the body's ``session`` id; raise InvalidDbRequest when it is not one."""
    session_id = body.get("session")
    if not isinstance(session_id, str) or not 0 < len(session_id) <= (
        SESSION_ID_MAX_CHARS
    ):
        raise InvalidDbRequest(
            f"session: the id ctx.db's begin answered (a string of 1-"
            f"{SESSION_ID_MAX_CHARS} characters), got {type(session_id).__name__}"
        )
    return session_id


def params_of(params):
    """Return the statement's parameters from their wire form.

    A mapping's values are decoded; anything else is left for the core to
    refuse (DbParameterError). Raises InvalidDbRequest naming the parameter
    whose value is malformed.
    """
    if not isinstance(params, dict):
        return params
    values = {}
    for name, value in params.items():
        try:
            values[name] = dbwire.decode(value)
        except dbwire.MalformedValue as exc:
            raise InvalidDbRequest(f"params.{name[:60]}: {exc}") from None
    return values


def result_json(result):
    """Return the wire form of a ctx.db Result."""
    columns = result.columns
    return {
        "columns": list(columns),
        "rows": [dbwire.encode_row([row[name] for name in columns]) for row in result],
        "rowcount": result.rowcount,
        "scalar": dbwire.encode(result.scalar(), strict=False),
    }
