"""Console routes, mounted under /admin/console/ (before the admin's catch-all).

Each console module lists its own ``urlpatterns``; this file only includes them.
"""

from django.urls import include, path
from django.views.generic import RedirectView

app_name = "console"

urlpatterns = [
    # /admin/console/ itself: the partition browser (which asks for the login).
    path("", RedirectView.as_view(pattern_name="console:extensions"), name="home"),
    path("partitions/", include("apps.console.partition_urls")),
    path("schedules/", include("apps.console.schedules")),
    path("usage/", include("apps.console.usage")),
]
