"""The index of every stored file: whose it is, its path, size and type, and the
opaque key its bytes live under in the storage backend."""

from django.db import models

from apps.accounts.partition import (
    PartitionKeyed,
    PartitionQuerySet,
    one_per_partition,
)


class StoredFileQuerySet(PartitionQuerySet):
    def under(self, partition, prefix):
        """The partition's files whose path starts with ``prefix``, by path."""
        rows = self.in_partition(partition)
        if prefix:
            rows = rows.filter(path__startswith=prefix)
        return rows.order_by("path")


class StoredFile(PartitionKeyed):
    """One file of one partition (tenant, extension, user).

    The bytes live in the ``extfiles`` storage under ``storage_key``, a name
    the platform made up (never derived from ``path``): a file is reached only
    through this row, found by its full partition key and path.
    """

    path = models.CharField(max_length=512, help_text="The extension's name for it.")
    storage_key = models.CharField(
        max_length=255, unique=True, help_text="Where the bytes are in the storage."
    )
    size = models.BigIntegerField(help_text="Bytes.")
    content_type = models.CharField(max_length=255)
    created_at = models.DateTimeField(help_text="First stored at this path.")
    updated_at = models.DateTimeField(help_text="Last replaced.")

    objects = StoredFileQuerySet.as_manager()

    class Meta:
        constraints = [one_per_partition("stored_file_one_per_path", "path")]

    def __str__(self):
        return f"{self.partition}:{self.path}"
