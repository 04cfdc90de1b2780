"""Routes of imperal-sdk 6.3.7's gateway clients, exactly as they send them."""

from django.urls import path, re_path
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from . import skeleton, webhooks
from .views import ai, cache, db, http, kernel, notify, runtime, secrets, storage, store


class UnknownRoute(APIView):
    """Any other /v1/internal/ path: 404 in the one error shape."""

    authentication_classes = []
    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer]

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        raise NotFound(f"no gateway route {request.method} {request.path[:200]}")


app_name = "gateway"
urlpatterns = [
    path("v1/internal/store", store.CreateDocument.as_view(), name="store-create"),
    path(
        "v1/internal/store/<str:collection>/<str:name>",
        store.collection_item,
        name="store-item",
    ),
    path(
        "v1/internal/extcache/<str:app>/<str:user>/<str:model>/<str:key_hash>",
        cache.CacheEntry.as_view(),
        name="extcache-entry",
    ),
    path("v1/internal/notify", notify.Notify.as_view(), name="notify"),
    path("v1/internal/http", http.OutboundHTTP.as_view(), name="http"),
    path("v1/internal/progress", kernel.Progress.as_view(), name="progress"),
    path("v1/internal/deliveries", kernel.Deliveries.as_view(), name="deliveries"),
    path(
        "v1/internal/deliveries/hold",
        kernel.HoldNotification.as_view(),
        name="deliveries-hold",
    ),
    path("v1/internal/db/execute", db.Execute.as_view(), name="db-execute"),
    path("v1/internal/db/begin", db.Begin.as_view(), name="db-begin"),
    path("v1/internal/db/commit", db.Commit.as_view(), name="db-commit"),
    path("v1/internal/db/rollback", db.Rollback.as_view(), name="db-rollback"),
    path("v1/internal/db/ping", db.Ping.as_view(), name="db-ping"),
    path("v1/internal/ai/complete", ai.Complete.as_view(), name="ai-complete"),
    path("v1/internal/storage/upload", storage.Upload.as_view(), name="storage-upload"),
    path(
        "v1/internal/storage/download",
        storage.Download.as_view(),
        name="storage-download",
    ),
    path("v1/internal/storage/list", storage.Listing.as_view(), name="storage-list"),
    path("v1/internal/storage", storage.Delete.as_view(), name="storage-delete"),
    path(
        "v1/internal/skeleton/<str:app>/<str:user>/<str:section>",
        skeleton.SkeletonSection.as_view(),
        name="skeleton-section",
    ),
    path("v1/secrets/<str:app>", secrets.SecretList.as_view(), name="secrets"),
    path(
        "v1/secrets/<str:app>/<str:name>",
        secrets.SecretItem.as_view(),
        name="secret",
    ),
    path(
        "v1/secrets/<str:app>/<str:name>/meta",
        secrets.SecretMeta.as_view(),
        name="secret-meta",
    ),
    path("v1/runtime/claim", runtime.Claim.as_view(), name="runtime-claim"),
    path("v1/runtime/reply", runtime.Reply.as_view(), name="runtime-reply"),
    re_path(
        r"^v1/ext/(?P<app>[^/]+)/webhook/(?P<path>.+)$",
        webhooks.Webhook.as_view(),
        name="webhook",
    ),
    re_path(r"^v1/(internal|secrets|runtime)/", UnknownRoute.as_view(), name="unknown"),
]
