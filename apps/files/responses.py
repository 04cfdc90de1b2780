"""A stored file as an HTTP answer: streamed, and never rendered by a browser."""

from urllib.parse import quote

from django.http import StreamingHttpResponse

from .core import chunks


def file_response(row, handle):
    """Return a streamed response of a stored file's bytes, served as an attachment
    (never rendered by a browser on this origin, whatever its content type)."""
    response = StreamingHttpResponse(_closing(handle), content_type=row.content_type)
    response["Content-Length"] = str(row.size)
    name = row.path.rsplit("/", 1)[-1]
    response["Content-Disposition"] = _attachment(name)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


def _closing(handle):
    with handle:
        yield from chunks(handle)


def _attachment(name):
    ascii_name = name.encode("ascii", "replace").decode().replace('"', "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
