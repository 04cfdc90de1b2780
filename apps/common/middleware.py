"""The middleware that opens each request's scope: its id, its metrics, its error id."""

import time

from django.core.exceptions import (
    BadRequest,
    PermissionDenied,
    SuspiciousOperation,
)
from django.core.signals import got_request_exception
from django.http import Http404, JsonResponse
from django.http.multipartparser import MultiPartParserError

from . import http
from .errors import HTTP_STATUS
from .telemetry import context, labels, metrics

REQUEST_ID_HEADER = "X-Request-ID"
# What Django itself answers with a 4xx when a view raises it.
_CLIENT_ERRORS = (
    Http404,
    PermissionDenied,
    BadRequest,
    SuspiciousOperation,
    MultiPartParserError,
)


class RequestTelemetry:
    """Give a request its id (an incoming sane X-Request-ID, else a new one),
    echoed in the response's X-Request-ID; count and time it by route, method and
    status; and answer an error that escaped a non-DRF view with an error id.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.clock = time.perf_counter

    def __call__(self, request):
        sent = request.META.get("HTTP_X_REQUEST_ID")
        scope, token = context.open_scope(
            context.request_id_from(sent), labels.method_label(request.method)
        )
        started = self.clock()
        try:
            response = self.get_response(request)
        finally:
            context.close_scope(token)
        metrics.request_answered(
            request.resolver_match,
            request.method,
            response.status_code,
            self.clock() - started,
        )
        response[REQUEST_ID_HEADER] = scope.request_id
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        """Note the route on the scope (errors recorded in the view name it)."""
        scope = context.current()
        if scope is not None:
            scope.route = labels.route_label(request.resolver_match)

    def process_exception(self, request, exception):
        """Log and record an error a view raised under an error id; return the
        error shape (500, the id only) for a program's path, None (Django's 500
        page) for a person's. Client errors Django answers itself pass through."""
        if isinstance(exception, _CLIENT_ERRORS):
            return None
        error_id = http.log_error("internal", exception, f"in {request.path[:200]}")
        if not http.is_machine_path(request.path):
            return None
        # What Django sends for an uncaught exception (error reporters listen).
        got_request_exception.send(sender=type(self), request=request)
        return JsonResponse(
            http.error_body(
                "internal", http.internal_message(error_id), {"error_id": error_id}
            ),
            status=HTTP_STATUS["internal"],
        )
