"""``/``: what this server is, and where its admin, API docs and health are.

Public, so it names no extension, user or setting: only links.
"""

from django.shortcuts import render
from django.urls import path


def landing(request):
    """Return the landing page: links to the admin, the API docs and /healthz."""
    return render(request, "console/ops/landing.html")


urlpatterns = [path("", landing, name="landing")]
