"""Routes of the partition browser, documents and cache inspector."""

from urllib.parse import unquote

from django.urls import path, register_converter

from . import cache, documents, editor, files, partitions


class PartitionIdConverter:
    """One URL segment holding an extension or user id, whatever it holds.

    Ids follow a rule without '/' now, but a partition stored before the rule
    may hold one (or be '.' or '..', which a browser resolves away); the
    operator must still open, export and erase it. ``to_url`` percent-encodes
    '%' and '/' (and a dot segment), which reverse() encodes once more, so
    the request path keeps them as ``%25``… and ``to_python`` decodes what the
    server's own decoding left. A plain id is its own segment.
    """

    regex = "[^/]+"

    def to_python(self, value):
        return unquote(value)

    def to_url(self, value):
        encoded = value.replace("%", "%25").replace("/", "%2F")
        if encoded in (".", ".."):
            encoded = encoded.replace(".", "%2E")
        return encoded


register_converter(PartitionIdConverter, "partition_id")

P = "<partition_id:app_id>/<partition_id:user_id>/"
DOC = P + "c/<str:collection>/<str:doc_id>/"

urlpatterns = [
    path("", partitions.extensions, name="extensions"),
    path("<partition_id:app_id>/", partitions.users, name="users"),
    path(P, partitions.partition, name="partition"),
    path(P + "export/", partitions.export, name="export"),
    path(P + "erase/", partitions.erase, name="erase"),
    path(P + "files/", files.files, name="files"),
    path(P + "files/download/", files.download, name="file-download"),
    path(P + "cache/", cache.entries, name="cache"),
    path(P + "cache/delete/", cache.delete_entry, name="cache-delete"),
    # Outside c/: any name under c/<collection>/ may be a document id.
    path(P + "new/", editor.create, name="document-new"),
    path(P + "c/<str:collection>/", documents.documents, name="documents"),
    path(DOC, editor.document, name="document"),
    path(DOC + "delete/", editor.delete, name="document-delete"),
]
