"""ctx.store's quotas: documents and bytes per partition, refused inside the write.

The partition statistics (apps.store.stats) count a partition's documents and
bytes in the transaction of every write, under the partition row's lock.
A write with a quota (:class:`StoreQuota`) is refused when, counted, the
partition passes a limit, and the transaction rolls back: nothing is written,
and of concurrent writers exactly those within the limit pass (the row lock
orders them). On PostgreSQL the write's one statement sets the quota as a
transaction-local setting that the statistics trigger checks (no extra round
trip); on SQLite, whose writes hold the database's one write lock, the backend
reads the row before and after the write, in the write's transaction.
Only growth is refused: a delete, or a write that shrinks, always passes.
"""

import functools
import json
from dataclasses import dataclass

from apps.quotas.errors import QuotaExceeded

DOCUMENTS = "store.documents"
BYTES = "store.bytes"
KINDS = (DOCUMENTS, BYTES)
QUOTA_SETTING = "imperal.store_quota"
SQLSTATE = "IQ001"  # the quota check's own error code (class IQ: not PostgreSQL's)
STATS_ROW = """SELECT documents, bytes FROM store_partition_stats
WHERE tenant_id = %s AND app_id = %s AND user_id = %s"""
# Called by the statistics triggers with what the statement added to the quota's
# partition (``added`` documents, ``grown`` bytes) and what it holds now.
POSTGRESQL_QUOTA_CHECK = f"""
CREATE OR REPLACE FUNCTION store_quota_check(
    q jsonb, added bigint, grown bigint, held bigint, size bigint
) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF added > 0 AND held > (q->>'documents')::bigint THEN
        RAISE EXCEPTION 'quota {DOCUMENTS} reached' USING ERRCODE = '{SQLSTATE}',
            DETAIL = json_build_object('kind', '{DOCUMENTS}', 'app_id', q->>'app_id',
                'limit', (q->>'documents')::bigint, 'usage', held - added,
                'requested', added)::text;
    END IF;
    IF grown > 0 AND size > (q->>'bytes')::bigint THEN
        RAISE EXCEPTION 'quota {BYTES} reached' USING ERRCODE = '{SQLSTATE}',
            DETAIL = json_build_object('kind', '{BYTES}', 'app_id', q->>'app_id',
                'limit', (q->>'bytes')::bigint, 'usage', size - grown,
                'requested', grown)::text;
    END IF;
END $$;
"""
CHECK_SIGNATURE = "store_quota_check(jsonb, bigint, bigint, bigint, bigint)"


@dataclass(frozen=True)
class StoreQuota:
    """The limits one write of one partition runs under (None: no limit)."""

    KINDS = (DOCUMENTS, BYTES)

    partition: object
    documents: int | None
    bytes: int | None

    @classmethod
    def of(cls, partition, limits):
        """Return the StoreQuota of ``limits`` ({kind: limit}), or None if unlimited."""
        documents, size = limits.get(DOCUMENTS), limits.get(BYTES)
        if documents is None and size is None:
            return None
        return cls(partition, documents, size)

    def setting(self):
        """Return the JSON text PostgreSQL's trigger reads from QUOTA_SETTING."""
        return _setting_text(*self.key(), self.documents, self.bytes)

    def key(self):
        return (
            self.partition.tenant_id,
            self.partition.app_id,
            self.partition.user_id,
        )

    def held(self):
        """Return (documents, bytes) the partition holds (a statement generator)."""
        rows = yield (STATS_ROW, self.key())
        return tuple(rows[0]) if rows else (0, 0)

    def check(self, before, after):
        """Raise QuotaExceeded when the write from ``before`` to ``after``
        ((documents, bytes) held) grew past a limit; else return None."""
        for kind, limit, was, now in (
            (DOCUMENTS, self.documents, before[0], after[0]),
            (BYTES, self.bytes, before[1], after[1]),
        ):
            if limit is not None and now > was and now > limit:
                raise self.refusal(kind, limit, was, now - was)

    def refusal(self, kind, limit, usage, requested):
        return QuotaExceeded(
            kind, limit, usage, requested, app_id=self.partition.app_id
        )


@functools.lru_cache(maxsize=4096)
def _setting_text(tenant_id, app_id, user_id, documents, size):
    return json.dumps(
        {
            "tenant_id": tenant_id,
            "app_id": app_id,
            "user_id": user_id,
            "documents": documents,
            "bytes": size,
        }
    )


def refusal_of(exc):
    """Return the QuotaExceeded a database error of the quota check stands for,
    or None for any other error."""
    for error in (exc, exc.__cause__):
        if getattr(error, "sqlstate", None) != SQLSTATE:
            continue
        detail = json.loads(error.diag.message_detail or "{}")
        return QuotaExceeded(
            detail.get("kind", DOCUMENTS),
            detail.get("limit"),
            detail.get("usage"),
            detail.get("requested", 1),
            app_id=detail.get("app_id", ""),
        )
    return None
