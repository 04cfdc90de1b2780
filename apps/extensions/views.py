"""Operational endpoint: Prometheus metrics (/healthz is apps.api's)."""

from django.http import HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest


def metrics(request):
    """Serve this process's Prometheus metrics (threat counter, cache outages, …)."""
    return HttpResponse(generate_latest(), content_type=CONTENT_TYPE_LATEST)
