"""Where webhooks answer: their own host (IMPERAL_WEBHOOK_HOST) or the platform's,
the headers every webhook answer carries, and the middleware keeping the two apart.

A webhook handler is extension code answering an outsider. On the admin's own
origin its answer could run script with the admin's cookies in reach, so every
webhook answer is sandboxed (``Content-Security-Policy: sandbox``: no script,
an opaque origin) and never sniffed. With IMPERAL_WEBHOOK_HOST set, webhooks
answer on that host only and nothing else does, so a browser never sends a
webhook the platform's cookies nor reads the platform's pages beside one.
"""

from urllib.parse import urlsplit

from django.conf import settings
from django.http import JsonResponse
from django.http.request import split_domain_port
from django.urls import Resolver404, resolve

from .errors import HTTP_STATUS
from .http import error_body

HOST_SETTING = "IMPERAL_WEBHOOK_HOST"
WEBHOOK_VIEW = "gateway:webhook"  # the URL name of /v1/ext/{app}/webhook/{path}
ANSWER_HEADERS = {
    "Content-Security-Policy": "sandbox",
    "X-Content-Type-Options": "nosniff",
}


def webhook_host():
    """Return IMPERAL_WEBHOOK_HOST lower-cased ("host" or "host:port"), "" if unset."""
    return (getattr(settings, HOST_SETTING, "") or "").strip().lower()


def webhook_base_url():
    """Return the base URL webhook URLs are built on: PUBLIC_URL's scheme on
    IMPERAL_WEBHOOK_HOST when it is set, else PUBLIC_URL."""
    public = settings.PUBLIC_URL.rstrip("/")
    host = webhook_host()
    if not host:
        return public
    return f"{urlsplit(public).scheme or 'https'}://{host}"


def harden(response):
    """Put ANSWER_HEADERS on ``response`` (replacing any); return it."""
    for name, value in ANSWER_HEADERS.items():
        response[name] = value
    return response


def is_webhook_host(request, host):
    """Return whether ``request`` came for ``host`` (a port in ``host`` must match too)."""
    domain, port = split_domain_port(host)
    asked_domain, asked_port = split_domain_port(request.get_host())
    return asked_domain == domain and (not port or asked_port == port)


def is_webhook_route(path):
    """Return whether URL ``path`` is a webhook's route."""
    try:
        return resolve(path).view_name == WEBHOOK_VIEW
    except Resolver404:
        return False


class WebhookOriginMiddleware:
    """With IMPERAL_WEBHOOK_HOST set: on that host only webhooks answer; on any
    other host webhooks do not. Either refusal is a 404 in the one error shape,
    before static files, sessions or views are reached. Unset: nothing changes."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        host = webhook_host()
        if not host:
            return self.get_response(request)
        on_webhook_host = is_webhook_host(request, host)
        if is_webhook_route(request.path_info) != on_webhook_host:
            return _refusal(request, on_webhook_host)
        return self.get_response(request)


def _refusal(request, on_webhook_host):
    if on_webhook_host:
        message = (
            f"this host serves webhooks only ({HOST_SETTING}); "
            f"no webhook at {request.path[:200]!r}"
        )
    else:
        message = (
            f"webhooks answer on their own host ({HOST_SETTING}), not on this one: "
            "send this request there"
        )
    response = JsonResponse(
        error_body("not_found", message), status=HTTP_STATUS["not_found"]
    )
    return harden(response)
