"""Partition statistics on PostgreSQL: statement-level triggers (see apps.store.stats)."""

from django.db import migrations


def reinstall(apps, schema_editor):
    from apps.store.migrations import _stats_before_bytes as stats

    if schema_editor.connection.vendor != "postgresql":
        return  # SQLite keeps its row-level triggers: one writer, no version chains
    with schema_editor.connection.cursor() as cursor:
        stats.install_triggers(cursor, "postgresql")


class Migration(migrations.Migration):
    dependencies = [
        ("store", "0004_fanout_shard_index"),
    ]

    operations = [migrations.RunPython(reinstall, migrations.RunPython.noop)]
