"""Routes of apps.api: /api/v1/*, the schema and its pages, Imperal's call route."""

from django.urls import path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerView,
)

from .views import (
    extensions,
    health,
    imperal,
    me,
    notifications,
    partitions,
    schedules,
    security,
)

OPERATOR = "api/v1/operator"
PARTITION = f"{OPERATOR}/extensions/<str:app_id>/partitions/<str:user_id>"

app_name = "api"
urlpatterns = [
    path("healthz", health.Healthz.as_view(), name="healthz"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path(
        "api/docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"
    ),
    path(
        "api/redoc/", SpectacularRedocView.as_view(url_name="api:schema"), name="redoc"
    ),
    path("api/v1/extensions", extensions.ExtensionList.as_view(), name="extensions"),
    path(
        "api/v1/extensions/<str:app_id>/tools/<str:name>/call",
        extensions.ToolCall.as_view(),
        name="tool-call",
    ),
    path(
        "api/v1/extensions/<str:app_id>/panels/<str:name>/call",
        extensions.PanelCall.as_view(),
        name="panel-call",
    ),
    path("api/v1/me/data", me.MyData.as_view(), name="my-data"),
    path("api/v1/me/data/export", me.MyDataExport.as_view(), name="my-data-export"),
    path(
        "api/v1/notifications",
        notifications.NotificationList.as_view(),
        name="notifications",
    ),
    path(
        "api/v1/notifications/read-all",
        notifications.NotificationsReadAll.as_view(),
        name="notifications-read-all",
    ),
    path(
        "api/v1/notifications/<str:notification_id>/read",
        notifications.NotificationRead.as_view(),
        name="notification-read",
    ),
    path(
        f"{OPERATOR}/extensions/<str:app_id>/partitions",
        partitions.PartitionList.as_view(),
        name="partitions",
    ),
    path(PARTITION, partitions.PartitionDetail.as_view(), name="partition"),
    path(
        f"{PARTITION}/documents",
        partitions.PartitionDocuments.as_view(),
        name="partition-documents",
    ),
    path(
        f"{PARTITION}/export",
        partitions.PartitionExport.as_view(),
        name="partition-export",
    ),
    path(f"{OPERATOR}/schedules", schedules.ScheduleList.as_view(), name="schedules"),
    path(
        f"{OPERATOR}/schedules/<str:app_id>/<str:name>/runs",
        schedules.ScheduleRuns.as_view(),
        name="schedule-runs",
    ),
    path(
        f"{OPERATOR}/schedules/<str:app_id>/<str:name>/run",
        schedules.RunNow.as_view(),
        name="schedule-run-now",
    ),
    path(
        f"{OPERATOR}/security-events",
        security.SecurityEvents.as_view(),
        name="security-events",
    ),
    path(
        "v1/extensions/<str:app_id>/call",
        imperal.ExtensionCall.as_view(),
        name="imperal-call",
    ),
    path(
        "v1/extensions/<str:app_id>/batch",
        imperal.ExtensionBatch.as_view(),
        name="imperal-batch",
    ),
]
