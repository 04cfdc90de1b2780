"""The platform's routes plus one bare Django JSON view, the benchmark's baseline."""

from django.http import JsonResponse
from django.urls import include, path

PAYLOAD = {"ok": True, "n": 1}


def bare(request):
    """Return a small JSON body: the floor of a Django request on this server."""
    return JsonResponse(PAYLOAD)


urlpatterns = [
    path("bench/bare", bare, name="bench-bare"),
    path("", include("imperal_platform.urls")),
]
