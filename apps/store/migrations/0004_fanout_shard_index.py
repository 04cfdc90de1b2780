"""PostgreSQL: an index of each collection's users by their shard hash.

One shard of a fan-out (apps.store.shards) walks its own hash range of this
index instead of every user of the collection. SQLite filters by the hash
function without an index (the embedded default is not for millions of users).
"""

from django.db import migrations

from apps.store.shards import USER_HASH_SQL_POSTGRESQL

INDEX = "store_doc_fanout_hash"


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    user_hash = USER_HASH_SQL_POSTGRESQL.format(column="user_id")
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON store_document "
        f"(tenant_id, app_id, collection, ({user_hash}), user_id)"
    )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("store", "0003_partition_stats")]

    operations = [migrations.RunPython(create, drop)]
