"""Top-level URL routes."""

from django.contrib import admin
from django.urls import include, path

from apps.extensions.views import metrics

handler404 = "apps.common.http.not_found"
handler500 = "apps.common.http.server_error"

urlpatterns = [
    path("admin/console/", include("apps.console.urls")),
    path("admin/", admin.site.urls),
    path("metrics", metrics, name="metrics"),
    path("", include("apps.console.landing")),
    path("", include("apps.api.urls")),
    path("", include("apps.gateway.urls")),
]
