"""Routes of the partition browser, documents and cache inspector."""

from django.urls import path

from . import cache, documents, editor, partitions

P = "<str:app_id>/<str:user_id>/"
DOC = P + "c/<str:collection>/<str:doc_id>/"

urlpatterns = [
    path("", partitions.extensions, name="extensions"),
    path("<str:app_id>/", partitions.users, name="users"),
    path(P, partitions.partition, name="partition"),
    path(P + "export/", partitions.export, name="export"),
    path(P + "erase/", partitions.erase, name="erase"),
    path(P + "cache/", cache.entries, name="cache"),
    path(P + "cache/delete/", cache.delete_entry, name="cache-delete"),
    # Outside c/: any name under c/<collection>/ may be a document id.
    path(P + "new/", editor.create, name="document-new"),
    path(P + "c/<str:collection>/", documents.documents, name="documents"),
    path(DOC, editor.document, name="document"),
    path(DOC + "delete/", editor.delete, name="document-delete"),
]
