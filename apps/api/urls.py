"""Routes of apps.api: /api/v1/*, the schema and its pages, Imperal's call route."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from .views import (
    docs,
    extensions,
    health,
    imperal,
    me,
    partitions,
    schedules,
    secrets,
    security,
    usage,
)
from .views.notifications import (
    NotificationList,
    NotificationRead,
    NotificationsReadAll,
)

OPERATOR = "api/v1/operator"
PARTITIONS = f"{OPERATOR}/extensions/<str:app_id>/partitions"
PARTITION = f"{PARTITIONS}/<str:user_id>"
SCHEDULE = f"{OPERATOR}/schedules/<str:app_id>/<str:name>"
EXTENSION = "api/v1/extensions/<str:app_id>"
NOTES = "api/v1/notifications"
MY_SECRETS = "api/v1/me/secrets/<str:app_id>"
SCHEMA = "api:schema"

app_name = "api"

# (route, view class, name): one line a route, so the table reads as the API's map.
ROUTES = [
    ("healthz", health.Healthz, "healthz"),
    ("api/v1/extensions", extensions.ExtensionList, "extensions"),
    (f"{EXTENSION}/tools/<str:name>/call", extensions.ToolCall, "tool-call"),
    (f"{EXTENSION}/panels/<str:name>/call", extensions.PanelCall, "panel-call"),
    ("api/v1/me/data", me.MyData, "my-data"),
    ("api/v1/me/data/export", me.MyDataExport, "my-data-export"),
    ("api/v1/me/usage", usage.MyUsage, "my-usage"),
    ("api/v1/me/files/<str:app_id>", me.MyFile, "my-file"),
    (MY_SECRETS, secrets.MySecrets, "my-secrets"),
    (f"{MY_SECRETS}/<str:name>", secrets.MySecret, "my-secret"),
    (NOTES, NotificationList, "notifications"),
    (f"{NOTES}/read-all", NotificationsReadAll, "notifications-read-all"),
    (f"{NOTES}/<str:notification_id>/read", NotificationRead, "notification-read"),
    (PARTITIONS, partitions.PartitionList, "partitions"),
    (PARTITION, partitions.PartitionDetail, "partition"),
    (f"{PARTITION}/documents", partitions.PartitionDocuments, "partition-documents"),
    (f"{PARTITION}/export", partitions.PartitionExport, "partition-export"),
    (f"{OPERATOR}/schedules", schedules.ScheduleList, "schedules"),
    (f"{SCHEDULE}/runs", schedules.ScheduleRuns, "schedule-runs"),
    (f"{SCHEDULE}/run", schedules.RunNow, "schedule-run-now"),
    (f"{OPERATOR}/security-events", security.SecurityEvents, "security-events"),
    ("v1/extensions/<str:app_id>/call", imperal.ExtensionCall, "imperal-call"),
    ("v1/extensions/<str:app_id>/batch", imperal.ExtensionBatch, "imperal-batch"),
]

urlpatterns = [
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", docs.SwaggerDocs.as_view(url_name=SCHEMA), name="docs"),
    path("api/redoc/", docs.RedocDocs.as_view(url_name=SCHEMA), name="redoc"),
    *(path(route, view.as_view(), name=name) for route, view, name in ROUTES),
]
