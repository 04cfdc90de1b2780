"""Routes of the partition browser, documents and cache inspector."""

from django.urls import path

from . import cache, documents, partitions

P = "<str:app_id>/<str:user_id>/"

urlpatterns = [
    path("", partitions.extensions, name="extensions"),
    path("<str:app_id>/", partitions.users, name="users"),
    path(P, partitions.partition, name="partition"),
    path(P + "export/", partitions.export, name="export"),
    path(P + "erase/", partitions.erase, name="erase"),
    path(P + "cache/", cache.entries, name="cache"),
    path(P + "cache/delete/", cache.delete_entry, name="cache-delete"),
    path(P + "c/<str:collection>/", documents.documents, name="documents"),
    path(P + "c/<str:collection>/<str:doc_id>/", documents.document, name="document"),
]
