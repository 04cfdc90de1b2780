"""Top-level URL routes."""

from django.contrib import admin
from django.urls import include, path

from apps.extensions.views import metrics

handler404 = "imperal_platform.http.not_found"
handler500 = "imperal_platform.http.server_error"

urlpatterns = [
    path("admin/console/", include("apps.console.urls")),
    path("admin/", admin.site.urls),
    path("metrics", metrics, name="metrics"),
    path("", include("apps.console.landing")),
    path("", include("apps.api.urls")),
    path("", include("apps.gateway.urls")),
]
