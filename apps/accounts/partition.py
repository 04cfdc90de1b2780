"""The partition key every per-user surface is scoped by."""

from dataclasses import dataclass

from django.db import models

from .models import SYSTEM_ID

# The partition key's columns, in the order every per-user index leads with.
KEY_COLUMNS = ("tenant_id", "app_id", "user_id")


@dataclass(frozen=True)
class Partition:
    """(tenant_id, app_id, user_id): one user's data inside one extension."""

    tenant_id: str
    app_id: str
    user_id: str

    @property
    def is_system(self):
        return self.user_id == SYSTEM_ID

    def for_user(self, user_id):
        """Return the same tenant and extension's partition for another user."""
        return Partition(self.tenant_id, self.app_id, user_id)

    def fields(self):
        """Return the key as model field values: tenant_id, app_id, user_id."""
        return {
            "tenant_id": self.tenant_id,
            "app_id": self.app_id,
            "user_id": self.user_id,
        }

    def __str__(self):
        return f"{self.tenant_id}/{self.app_id}/{self.user_id}"


def partition_index(name, *columns):
    """Return an index led by the partition key, then ``columns``."""
    return models.Index(fields=[*KEY_COLUMNS, *columns], name=name)


def one_per_partition(name, *columns):
    """Return a constraint allowing one row per partition key (and ``columns``)."""
    return models.UniqueConstraint(fields=[*KEY_COLUMNS, *columns], name=name)


class PartitionQuerySet(models.QuerySet):
    def in_partition(self, partition):
        """Rows of one (tenant, extension, user)."""
        return self.filter(**partition.fields())


class PartitionKeyed(models.Model):
    """Abstract base of a per-user row: the partition key's columns, defined once."""

    tenant_id = models.CharField(max_length=64)
    app_id = models.CharField(max_length=128)
    user_id = models.CharField(max_length=128)

    objects = PartitionQuerySet.as_manager()

    class Meta:
        abstract = True

    @property
    def partition(self):
        """Return the row's partition key."""
        return Partition(self.tenant_id, self.app_id, self.user_id)

    def __str__(self):
        return str(self.partition)
