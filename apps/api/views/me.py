"""My data: what extensions keep about the signed-in user; take it out, erase it."""

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from apps.extensions.errors import ExtensionNotFound
from apps.files.core import Files
from apps.files.responses import file_response
from apps.store.models import AuditEntry

from .. import data
from ..schema import errors
from ..serializers import ErasedSerializer, ExportSerializer, MyDataSerializer
from .base import ApiView

EXPORT_CONTENT_TYPE = "application/json"


class EraseQuery(serializers.Serializer):
    extension = serializers.CharField(
        max_length=128, help_text="app_id of the extension whose data to erase."
    )


def checked_app_id(app_id):
    """Return ``app_id`` if an extension of that id is or was here; else 404."""
    if app_id not in data.known_app_ids():
        raise ExtensionNotFound(app_id)
    return app_id


class MyData(ApiView):
    @extend_schema(
        summary="Summarize my data: per extension, collections with document "
        "counts, the cache entry count and how many secrets are set",
        responses={200: MyDataSerializer, **errors()},
        tags=["my data"],
    )
    def get(self, request):
        user = request.user
        found = [data.summary(self.partition(app)) for app in data.known_app_ids()]
        return Response(
            {
                "user_id": user.imperal_id,
                "tenant_id": user.tenant_id,
                "extensions": [
                    s
                    for s in found
                    if s["documents"]
                    or s["cache_entries"]
                    or s["secrets_set"]
                    or s["files"]
                ],
            }
        )

    @extend_schema(
        summary="Erase my documents, cache entries and secrets in one extension",
        description="One audit row per deleted document plus one for the erase. "
        + data.DB_ROWS_NOTE
        + ".",
        parameters=[EraseQuery],
        responses={200: ErasedSerializer, **errors(400, 404)},
        tags=["my data"],
    )
    def delete(self, request):
        query = EraseQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        app_id = checked_app_id(query.validated_data["extension"])
        return Response(data.erase(self.partition(app_id), AuditEntry.Actor.USER))


class MyDataExport(ApiView):
    @extend_schema(
        summary="Export every document of mine (and my secrets' names) as JSON, "
        "streamed",
        parameters=[
            OpenApiParameter(
                "extension",
                str,
                description="Only this extension's documents (default: all).",
            )
        ],
        responses={200: ExportSerializer, **errors(400, 404)},
        tags=["my data"],
    )
    def get(self, request):
        """Read page by page underneath (keyset pagination): the export streams with
        flat memory whatever its size."""
        asked = request.query_params.get("extension")
        apps = [checked_app_id(asked)] if asked else data.known_app_ids()
        user = request.user
        chunks = data.export_chunks(
            user.tenant_id, user.imperal_id, [self.partition(a) for a in apps]
        )
        return export_response(chunks, f"{user.imperal_id}-export.json")


def export_response(chunks, filename):
    """Return the streaming response of an export's chunks, as a download."""
    response = StreamingHttpResponse(
        (chunk.encode() for chunk in chunks), content_type=EXPORT_CONTENT_TYPE
    )
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in filename)[:120]
    response["Content-Disposition"] = f'attachment; filename="{safe}"'
    return response


class FileQuery(serializers.Serializer):
    path = serializers.CharField(max_length=512, help_text="The file's path.")


class MyFile(ApiView):
    @extend_schema(
        summary="Download one of my files (ctx.storage) in one extension, streamed",
        parameters=[FileQuery],
        responses={
            (200, "application/octet-stream"): OpenApiTypes.BINARY,
            **errors(400, 404),
        },
        tags=["my data"],
    )
    def get(self, request, app_id):
        query = FileQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        partition = self.partition(checked_app_id(app_id))
        row, handle = Files().open(partition, query.validated_data["path"])
        return file_response(row, handle)
