"""The store's tables: one row per document, one row per write in the audit trail.

Rows are written only through :mod:`apps.store.core`, which owns ids, etags,
timestamps and the audit trail; the ORM defines the schema and serves the admin.
"""

from django.db import models

from apps.accounts.partition import KEY_COLUMNS, one_per_partition, partition_index

SYSTEM_USER_HELP = "imperal_id of the owner; '__system__' for the system partition."
# The partition key and the collection: the leading columns of every per-user index.
_PARTITION = (*KEY_COLUMNS, "collection")


class DocumentQuerySet(models.QuerySet):
    def in_partition(self, tenant_id, app_id, user_id):
        """Documents of one user inside one extension and tenant."""
        return self.filter(tenant_id=tenant_id, app_id=app_id, user_id=user_id)


class Document(models.Model):
    """One JSON document of one user's partition: (tenant, app, user, collection, doc_id)."""

    tenant_id = models.CharField(max_length=64)
    app_id = models.CharField(max_length=128)
    user_id = models.CharField(max_length=128, help_text=SYSTEM_USER_HELP)
    collection = models.CharField(max_length=128)
    doc_id = models.CharField(max_length=128)
    data = models.JSONField(
        default=dict, help_text="The document (jsonb on PostgreSQL)."
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    etag = models.CharField(max_length=64, help_text="Opaque; changes on every write.")

    objects = DocumentQuerySet.as_manager()

    class Meta:
        db_table = "store_document"
        constraints = [
            models.UniqueConstraint(
                fields=[*_PARTITION, "doc_id"], name="store_document_key"
            )
        ]
        # Every per-user statement filters the whole partition key first, then
        # the collection, then walks the sort column (ties by doc_id). The GIN
        # index (partition key + data jsonb_path_ops, PostgreSQL only) is
        # created by the migration: it cannot be declared for SQLite here.
        indexes = [
            models.Index(
                fields=[*_PARTITION, sort, "doc_id"], name=f"store_doc_by_{name}"
            )
            for sort, name in (("created_at", "created"), ("updated_at", "updated"))
        ] + [
            # list_users and query_all: the only cross-partition reads.
            models.Index(
                fields=["tenant_id", "app_id", "collection", "user_id", "doc_id"],
                name="store_doc_fanout",
            ),
        ]

    def __str__(self):
        return f"{self.app_id}/{self.user_id}/{self.collection}/{self.doc_id}"


class AuditEntryQuerySet(models.QuerySet):
    def in_partition(self, tenant_id, app_id, user_id):
        """Audit entries of one user inside one extension and tenant."""
        return self.filter(tenant_id=tenant_id, app_id=app_id, user_id=user_id)


class AuditEntry(models.Model):
    """One write to the store, recorded in the same transaction as the write."""

    class Op(models.TextChoices):
        CREATE = "create"
        UPDATE = "update"
        SET = "set"
        DELETE = "delete"
        # One row per erase of a whole partition, beside the rows of each
        # document it deleted (apps.store.partitions).
        ERASE = "erase"

    class Actor(models.TextChoices):
        USER = "user"
        SYSTEM = "system"
        SYSTEM_AS_USER = "system-as-user"
        WEBHOOK = "webhook"
        WEBHOOK_AS_USER = "webhook-as-user"
        GATEWAY = "gateway"
        OPERATOR = "operator"

    at = models.DateTimeField()
    tenant_id = models.CharField(max_length=64)
    app_id = models.CharField(max_length=128)
    user_id = models.CharField(max_length=128, help_text=SYSTEM_USER_HELP)
    collection = models.CharField(max_length=128)
    doc_id = models.CharField(max_length=128)
    op = models.CharField(max_length=16, choices=Op.choices)
    actor = models.CharField(max_length=16, choices=Actor.choices)
    etag = models.CharField(
        max_length=64, blank=True, help_text="The document's etag after the write."
    )
    operator = models.CharField(
        max_length=150,
        blank=True,
        default="",
        db_default="",
        help_text="Username of the staff user, for actor 'operator'; empty otherwise.",
    )
    change = models.JSONField(
        null=True,
        blank=True,
        help_text="What an operator's write changed in the document (apps.store."
        "changes): each path's value before and after, capped and with "
        "credential-like keys hidden. Empty for other writes and after an erase.",
    )

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        db_table = "store_audit"
        ordering = ["-id"]
        verbose_name_plural = "audit entries"
        indexes = [
            partition_index("store_audit_by_partition", "at"),
            models.Index(fields=["at"], name="store_audit_by_time"),
        ]

    def __str__(self):
        by = f"{self.actor} {self.operator}" if self.operator else self.actor
        return f"{self.op} {self.collection}/{self.doc_id} by {by}"


class PartitionStats(models.Model):
    """What one partition holds, kept by database triggers on ``store_document`` in
    the transaction of each write (migration 0003), so the partition browser
    counts and sorts users without reading their documents.

    ``last_write`` is the latest ``updated_at`` any of its documents ever had (a
    delete does not move it back). A partition's row goes with its last document.
    """

    tenant_id = models.CharField(max_length=64)
    app_id = models.CharField(max_length=128)
    user_id = models.CharField(max_length=128, help_text=SYSTEM_USER_HELP)
    documents = models.BigIntegerField()
    bytes = models.BigIntegerField(
        default=0,
        db_default=0,
        help_text="The JSON text of its documents, in bytes (the store.bytes quota).",
    )
    collections = models.IntegerField()
    last_write = models.DateTimeField()

    class Meta:
        db_table = "store_partition_stats"
        verbose_name_plural = "partition statistics"
        constraints = [one_per_partition("store_stats_key")]
        # The browser's sorts: each a keyset walk within one extension.
        indexes = [
            models.Index(
                fields=["tenant_id", "app_id", column, "user_id"],
                name=f"store_stats_by_{column}"[:30],
            )
            for column in ("documents", "bytes", "last_write")
        ]

    def __str__(self):
        return f"{self.app_id}/{self.user_id}: {self.documents} documents"


class CollectionStats(models.Model):
    """How many documents one collection of one partition holds (trigger-kept)."""

    tenant_id = models.CharField(max_length=64)
    app_id = models.CharField(max_length=128)
    user_id = models.CharField(max_length=128, help_text=SYSTEM_USER_HELP)
    collection = models.CharField(max_length=128)
    documents = models.BigIntegerField()

    class Meta:
        db_table = "store_collection_stats"
        verbose_name_plural = "collection statistics"
        constraints = [
            models.UniqueConstraint(fields=list(_PARTITION), name="store_cstats_key")
        ]

    def __str__(self):
        return f"{self.app_id}/{self.user_id}/{self.collection}: {self.documents}"
