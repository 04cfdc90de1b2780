"""SecurityEvent: its own table name, and one counted row per kind, identity and interval."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_securityevent_from_extensions"),
        ("extensions", "0002_securityevent_to_accounts"),
    ]

    operations = [
        migrations.AlterModelTable(name="securityevent", table=None),
        migrations.AddField(
            model_name="securityevent",
            name="last_seen_at",
            field=models.DateTimeField(
                blank=True, help_text="Latest attempt of the interval.", null=True
            ),
        ),
        migrations.AddField(
            model_name="securityevent",
            name="count",
            field=models.PositiveIntegerField(
                default=1,
                help_text="Attempts of this kind by this identity in the interval.",
            ),
        ),
        migrations.AddField(
            model_name="securityevent",
            name="bucket",
            field=models.BigIntegerField(
                default=0, help_text="Interval number (epoch seconds // interval)."
            ),
        ),
        migrations.AlterField(
            model_name="securityevent",
            name="created_at",
            field=models.DateTimeField(
                auto_now_add=True,
                db_index=True,
                help_text="First attempt of the interval.",
            ),
        ),
        migrations.AlterField(
            model_name="securityevent",
            name="detail",
            field=models.JSONField(
                blank=True,
                default=dict,
                help_text="What the first attempt asked for (bounded).",
            ),
        ),
        # Rows from before aggregation each keep an interval of their own.
        migrations.RunSQL(
            "UPDATE accounts_securityevent SET bucket = -id", migrations.RunSQL.noop
        ),
        migrations.AddConstraint(
            model_name="securityevent",
            constraint=models.UniqueConstraint(
                fields=("kind", "tenant_id", "app_id", "user_id", "bucket"),
                name="security_event_one_row_per_interval",
            ),
        ),
    ]
