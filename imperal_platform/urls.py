"""Top-level URL routes."""

from django.contrib import admin
from django.urls import include, path

from apps.extensions.views import healthz, metrics

urlpatterns = [
    path("admin/", admin.site.urls),
    path("metrics", metrics, name="metrics"),
    path("healthz", healthz, name="healthz"),
    path("", include("apps.gateway.urls")),
]
