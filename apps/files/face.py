"""ctx.storage: imperal-sdk's StorageClient API, a thin async face over the files core."""

from asgiref.sync import sync_to_async

from .core import LIST_DEFAULT, Files

FILES = Files()


def storage_for(ctx):
    """Return the ctx.storage of a PlatformContext, bound to its partition."""
    return StorageFace(ctx._partition)


class StorageFace:
    """One partition's files, as imperal-sdk's ``StorageClient`` offers them.

    Methods raise what the core raises: ValueError/TypeError naming a broken
    rule (before anything is written), FileTooLarge, FileMissing (a
    FileNotFoundError), StorageUnavailable.
    """

    def __init__(self, partition):
        self._partition = partition

    async def upload(self, path, data, content_type="application/octet-stream"):
        """Store ``data`` (bytes) at ``path``, replacing a file there; return its FileInfo."""
        return await _on_django(FILES.upload, self._partition, path, data, content_type)

    async def download(self, path):
        """Return the bytes of the file at ``path``; FileMissing when there is none."""
        return await _on_django(FILES.read, self._partition, path)

    async def delete(self, path):
        """Delete the file at ``path``; return whether there was one."""
        return await _on_django(FILES.delete, self._partition, path)

    async def list(self, prefix="", *, limit=LIST_DEFAULT, cursor=None):
        """Return a Page of FileInfo whose paths start with ``prefix``, by path.

        ``cursor`` continues after a previous page (its ``cursor``).
        """
        return await _on_django(FILES.list, self._partition, prefix, limit, cursor)

    def __repr__(self):
        return f"<ctx.storage {self._partition}>"


_on_django = sync_to_async(lambda function, *args: function(*args))
