"""``/v1/internal/storage…``: imperal-sdk's StorageClient routes over the files core.

Paths, fields and answers are those of imperal-sdk 6.3.7's ``storage/client.py``:
``POST …/upload`` (multipart: ``file`` and ``path``) → the file's
``{path, size, content_type, created_at, url}``; ``GET …/download?path=`` → the
bytes; ``GET …/list?prefix=`` → ``{files, has_more, cursor, total}``;
``DELETE /v1/internal/storage?path=`` → 200, or 404 when there was no file.
The client sends its token as ``Authorization: Bearer``.

Bytes stream both ways: an upload over FILE_UPLOAD_MAX_MEMORY_SIZE is spooled
to a temporary file by Django's upload handlers (and counted as it arrives:
past IMPERAL_STORAGE_MAX_FILE_BYTES it is refused unread), and a download is
read from the storage in chunks.
"""

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from apps.files.core import Files
from apps.files.errors import FileMissing
from apps.files.responses import file_response
from apps.files.rules import check_size

from .. import wire
from ..authentication import (
    BearerCallTokenAuthentication,
    BearerServiceTokenAuthentication,
    CallTokenAuthentication,
    ServiceTokenAuthentication,
)
from ..identity import acting_partition
from .base import GatewayView

FILES = Files()
# What a multipart body holds besides the file's bytes (boundaries, headers, fields).
MULTIPART_OVERHEAD_BYTES = 64 * 1024


class StorageView(GatewayView):
    """A /v1/internal/storage route: imperal-sdk's StorageClient sends ``Bearer``."""

    authentication_classes = [
        CallTokenAuthentication,
        BearerCallTokenAuthentication,
        BearerServiceTokenAuthentication,
        ServiceTokenAuthentication,
    ]

    def partition(self, params):
        return acting_partition(self.request, params)


class Upload(StorageView):
    """``POST /v1/internal/storage/upload``: multipart ``file`` (+ ``path``)."""

    parser_classes = [MultiPartParser]

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        # Authenticated, the body still unread: a declared length over the cap
        # is refused unread, and the bytes of a longer body are counted as
        # they come.
        limit = settings.IMPERAL_STORAGE_MAX_FILE_BYTES
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
        check_size(max(0, declared - MULTIPART_OVERHEAD_BYTES))
        request.upload_handlers.insert(0, CappedUpload(limit))

    def post(self, request):
        fields = request.data
        partition = self.partition(fields)
        upload = request.FILES.get("file")
        if upload is None:
            raise ValueError("gateway: the multipart body has no 'file' part")
        path = fields.get("path") or upload.name
        content_type, charset = upload.content_type, upload.charset
        if isinstance(charset, bytes):
            charset = charset.decode("ascii", "replace")
        if charset:  # Django splits it off the part's Content-Type
            content_type = f"{content_type}; charset={charset}"
        try:
            info = FILES.upload(partition, path, upload, content_type)
        finally:
            upload.close()
        return Response(_file_json(info), status=201)


class Download(StorageView):
    """``GET /v1/internal/storage/download?path=`` → the file's bytes, streamed."""

    def get(self, request):
        params = request.query_params
        row, handle = FILES.open(self.partition(params), params.get("path", ""))
        return file_response(row, handle)


class Listing(StorageView):
    """``GET /v1/internal/storage/list?prefix=[&limit=&cursor=]``."""

    def get(self, request):
        params = request.query_params
        page = FILES.list(
            self.partition(params),
            params.get("prefix", ""),
            limit=wire.query_int(params, "limit", 100),
            cursor=params.get("cursor") or None,
        )
        return Response(
            {
                "files": [_file_json(info) for info in page.data],
                "has_more": page.has_more,
                "cursor": page.cursor,
                "total": page.total,
            }
        )


class Delete(StorageView):
    """``DELETE /v1/internal/storage?path=`` → 200, or 404 when there was none."""

    def delete(self, request):
        params = request.query_params
        path = params.get("path", "")
        if not FILES.delete(self.partition(params), path):
            raise FileMissing(path)
        return Response({"path": path, "deleted": True})


def _file_json(info):
    return {
        "path": info.path,
        "size": info.size,
        "content_type": info.content_type,
        "created_at": info.created_at,
        "url": info.url,
    }


class CappedUpload(FileUploadHandler):
    """An upload handler that only counts: past ``limit`` bytes of one file it
    raises FileTooLarge, so no handler after it stores more."""

    def __init__(self, limit, request=None):
        super().__init__(request)
        self.limit = limit
        self.received = 0

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        check_size(self.received)
        return raw_data

    def file_complete(self, file_size):
        return None
