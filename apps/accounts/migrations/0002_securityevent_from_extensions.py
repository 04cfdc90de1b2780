"""SecurityEvent moves below the surfaces: state only, the table stays as it is."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("extensions", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="SecurityEvent",
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
                        (
                            "created_at",
                            models.DateTimeField(auto_now_add=True, db_index=True),
                        ),
                        (
                            "kind",
                            models.CharField(
                                db_index=True,
                                help_text="e.g. as_user_from_user_context",
                                max_length=64,
                            ),
                        ),
                        ("tenant_id", models.CharField(max_length=64)),
                        ("app_id", models.CharField(max_length=128)),
                        (
                            "user_id",
                            models.CharField(
                                help_text="Identity that made the attempt.",
                                max_length=128,
                            ),
                        ),
                        ("detail", models.JSONField(blank=True, default=dict)),
                    ],
                    options={
                        "ordering": ["-created_at"],
                        "db_table": "extensions_securityevent",
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
