"""Operational endpoints: Prometheus metrics and a health check."""

from django.db import connection
from django.http import HttpResponse, JsonResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest


def metrics(request):
    """Serve this process's Prometheus metrics (threat counter, cache outages, …)."""
    return HttpResponse(generate_latest(), content_type=CONTENT_TYPE_LATEST)


def healthz(request):
    """Answer 200 when the database answers, 503 otherwise."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:
        return JsonResponse(
            {"status": "unavailable", "database": type(exc).__name__}, status=503
        )
    return JsonResponse({"status": "ok"})
