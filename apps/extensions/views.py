"""Operational endpoint: Prometheus metrics (/healthz is apps.api's)."""

import functools
import hmac
import ipaddress

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse, JsonResponse

from apps.common.errors import HTTP_STATUS
from apps.common.http import error_body
from apps.common.telemetry import metrics as platform_metrics


def metrics(request):
    """Serve the platform's Prometheus metrics (apps.common.telemetry.metrics):
    every process of this server in multiprocess mode, else this process's.

    Only to a client in IMPERAL_METRICS_ALLOWED_NETWORKS or one presenting
    IMPERAL_METRICS_TOKEN as a bearer token; anyone else gets a 403 in the
    one error shape. Raises ImproperlyConfigured for a malformed network.
    """
    if not _allowed(request):
        message = (
            "metrics: this client's address is not in IMPERAL_METRICS_ALLOWED_NETWORKS"
            " and it sent no valid IMPERAL_METRICS_TOKEN bearer token"
        )
        return JsonResponse(
            error_body("forbidden", message), status=HTTP_STATUS["forbidden"]
        )
    return HttpResponse(
        platform_metrics.exposition(), content_type=platform_metrics.CONTENT_TYPE
    )


def _allowed(request):
    token = settings.IMPERAL_METRICS_TOKEN
    sent = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
        return True
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in network for network in _networks(_setting()))


def _setting():
    value = settings.IMPERAL_METRICS_ALLOWED_NETWORKS
    items = value.split(",") if isinstance(value, str) else value
    return tuple(item.strip() for item in items if item.strip())


@functools.cache
def _networks(items):
    try:
        return tuple(ipaddress.ip_network(item, strict=False) for item in items)
    except ValueError as exc:
        raise ImproperlyConfigured(
            f"IMPERAL_METRICS_ALLOWED_NETWORKS: {exc} (comma-separated networks, "
            "e.g. 10.0.0.0/8,127.0.0.1/32)"
        ) from None
