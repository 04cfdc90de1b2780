"""Console routes, mounted under /admin/console/ (before the admin's catch-all).

Each console module lists its own ``urlpatterns``; this file only includes them.
"""

from django.urls import include, path

app_name = "console"

urlpatterns = [
    path("partitions/", include("apps.console.partition_urls")),
    path("schedules/", include("apps.console.schedules")),
]
