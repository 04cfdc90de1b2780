"""What the OpenAPI schema shows: the API's routes only, each with its error responses."""

import inspect

from drf_spectacular import openapi
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse

from .authentication import TOKEN_SCHEME
from .serializers import ErrorSerializer

# The routes apps.api serves; the gateway (/v1/internal/*) speaks imperal-sdk's
# protocol and is described by imperal-sdk, not here.
SCHEMA_PREFIXES = ("/api/v1/", "/v1/extensions/", "/healthz")

ERROR_MEANINGS = {
    400: "Bad input (invalid_argument, invalid_params): the message names the rule",
    401: "No credential, or an unknown, expired or revoked token (unauthenticated)",
    403: "Authenticated but not allowed (forbidden), or the CSRF check failed",
    404: "No such extension, tool, panel, user, schedule, notification or declared "
    "secret (not_found)",
    409: "The extension is disabled by an operator (extension_disabled), or a "
    "secret it requires is not set (secret_missing, naming it)",
    413: "The request body is over IMPERAL_HTTP_MAX_BODY_BYTES (payload_too_large)",
    429: "Over the rate limit (throttled; Retry-After says when to retry), or a "
    "per-minute or per-day quota reached (quota_exceeded: detail has kind, limit, "
    "usage)",
    500: "The handler raised (handler_failed) or an internal error: an error id only",
    503: "A service the route needs is down (unavailable); Retry-After",
    504: "The handler ran past its timeout and was cancelled (timeout)",
    507: "A quota of what is held was reached (quota_exceeded: detail has kind, "
    "limit, usage, requested); nothing was written",
}
# Every authenticated route can answer these.
COMMON = (401, 403, 413, 429, 503)


def errors(*statuses):
    """Return extend_schema ``responses`` entries for the error statuses of a route
    (the COMMON ones included), all in the one error shape."""
    return {
        status: OpenApiResponse(ErrorSerializer, description=ERROR_MEANINGS[status])
        for status in sorted(set(COMMON) | set(statuses))
    }


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's AutoSchema (``DEFAULT_SCHEMA_CLASS``), describing a route by
    its own docstrings only: those of a base view (``ApiView``'s is about
    credentials) are for the code's readers, not the API's users."""

    def get_description(self):
        view_class = type(self.view)
        handler = view_class.__dict__.get(self.method.lower())
        doc = getattr(handler, "__doc__", None) or view_class.__dict__.get("__doc__")
        return inspect.cleandoc(doc) if doc else ""


def only_api_routes(endpoints, **kwargs):
    """drf-spectacular preprocessing hook: keep the endpoints apps.api serves."""
    return [
        endpoint for endpoint in endpoints if endpoint[0].startswith(SCHEMA_PREFIXES)
    ]


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """``Authorization: Token <token>`` in the schema (registered on import)."""

    target_class = "apps.api.authentication.ApiTokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": f"{TOKEN_SCHEME} <token>, from manage.py user_token UID",
        }
