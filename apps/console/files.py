"""A partition's files (ctx.storage): listed for operators who may view the partition,
downloaded by those who also hold the files' own view permission (recorded)."""

from apps.api.actions import Action, record
from apps.files.core import Files
from apps.files.errors import FileMissing
from apps.files.responses import file_response

from .site import (
    VIEW,
    NotFound,
    can,
    console_view,
    operated_partition,
    partition_page,
    render_listing,
    seconds,
)

DOWNLOAD = "files.view_storedfile"
FILES_PER_PAGE = 100


@console_view(VIEW)
def files(request, app_id, user_id):
    """One partition's files by path: name, size, type, date; a page at a time."""
    part = operated_partition(request, app_id, user_id)
    error, page = None, None
    try:
        page = Files().list(
            part,
            request.GET.get("prefix", "")[:512],
            limit=FILES_PER_PAGE,
            cursor=request.GET.get("cursor") or None,
        )
    except ValueError as exc:
        error = str(exc)
    context = {
        "app_id": app_id,
        "user_id": user_id,
        "prefix": request.GET.get("prefix", "")[:512],
        "files": [
            {**vars(info), "created": seconds(info.created_at)}
            for info in (page.data if page else [])
        ],
        "total": page.total if page else 0,
        "next_cursor": page.cursor if page else None,
        "error": error,
        "can_download": can(request, DOWNLOAD),
    }
    return render_listing(
        request,
        "console/partitions/files.html",
        context,
        title=f"{app_id}: {user_id}: files",
    )


@console_view(DOWNLOAD)
def download(request, app_id, user_id):
    """Stream one file of the partition as an attachment (recorded as an export)."""
    part = operated_partition(request, app_id, user_id)
    path = request.GET.get("path", "")
    try:
        row, handle = Files().open(part, path)
    except (FileMissing, ValueError) as exc:
        raise NotFound(str(exc), partition_page(part)) from None
    record(request.user, Action.EXPORT, part, detail={"file": path, "size": row.size})
    return file_response(row, handle)
