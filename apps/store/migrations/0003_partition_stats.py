"""Partition statistics: two tables kept by triggers on store_document."""

from django.db import migrations, models


def install(apps, schema_editor):
    from apps.store.migrations import _stats_before_bytes as stats

    with schema_editor.connection.cursor() as cursor:
        stats.install_triggers(cursor, schema_editor.connection.vendor)
        stats.rebuild(cursor)


def uninstall(apps, schema_editor):
    from apps.store.migrations import _stats_before_bytes as stats

    with schema_editor.connection.cursor() as cursor:
        stats.drop_triggers(cursor, schema_editor.connection.vendor)


class Migration(migrations.Migration):
    dependencies = [
        ("store", "0002_audit_erase_and_operator"),
    ]

    operations = [
        migrations.CreateModel(
            name="CollectionStats",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True,
                        primary_key=True,
                        serialize=False,
                        verbose_name="ID",
                    ),
                ),
                ("tenant_id", models.CharField(max_length=64)),
                ("app_id", models.CharField(max_length=128)),
                (
                    "user_id",
                    models.CharField(
                        help_text="imperal_id of the owner; '__system__' for the system partition.",
                        max_length=128,
                    ),
                ),
                ("collection", models.CharField(max_length=128)),
                ("documents", models.BigIntegerField()),
            ],
            options={
                "verbose_name_plural": "collection statistics",
                "db_table": "store_collection_stats",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("tenant_id", "app_id", "user_id", "collection"),
                        name="store_cstats_key",
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="PartitionStats",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True,
                        primary_key=True,
                        serialize=False,
                        verbose_name="ID",
                    ),
                ),
                ("tenant_id", models.CharField(max_length=64)),
                ("app_id", models.CharField(max_length=128)),
                (
                    "user_id",
                    models.CharField(
                        help_text="imperal_id of the owner; '__system__' for the system partition.",
                        max_length=128,
                    ),
                ),
                ("documents", models.BigIntegerField()),
                ("collections", models.IntegerField()),
                ("last_write", models.DateTimeField()),
            ],
            options={
                "verbose_name_plural": "partition statistics",
                "db_table": "store_partition_stats",
                "indexes": [
                    models.Index(
                        fields=["tenant_id", "app_id", "documents", "user_id"],
                        name="store_stats_by_documents",
                    ),
                    models.Index(
                        fields=["tenant_id", "app_id", "last_write", "user_id"],
                        name="store_stats_by_last_write",
                    ),
                ],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("tenant_id", "app_id", "user_id"),
                        name="store_stats_key",
                    )
                ],
            },
        ),
        migrations.RunPython(install, uninstall),
    ]
