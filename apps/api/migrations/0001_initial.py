"""OperatorAction: who exported or erased which partition through the API."""

from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="OperatorAction",
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
                ("at", models.DateTimeField(auto_now_add=True, db_index=True)),
                (
                    "operator",
                    models.CharField(
                        help_text="Username of the staff user who acted.",
                        max_length=150,
                    ),
                ),
                (
                    "operator_id",
                    models.CharField(
                        help_text="imperal_id of the staff user who acted.",
                        max_length=128,
                    ),
                ),
                (
                    "action",
                    models.CharField(
                        choices=[("export", "Export"), ("erase", "Erase")],
                        max_length=16,
                    ),
                ),
                ("tenant_id", models.CharField(max_length=64)),
                ("app_id", models.CharField(max_length=128)),
                (
                    "user_id",
                    models.CharField(help_text="Whose partition.", max_length=128),
                ),
                (
                    "documents",
                    models.PositiveIntegerField(
                        blank=True,
                        help_text="Documents exported or erased; empty while an export streams or if it was not read to its end.",
                        null=True,
                    ),
                ),
                ("cache_entries", models.PositiveIntegerField(blank=True, null=True)),
            ],
            options={
                "ordering": ["-at", "-id"],
                "indexes": [
                    models.Index(
                        fields=["tenant_id", "app_id", "user_id", "at"],
                        name="api_operator_action_partition",
                    )
                ],
            },
        ),
    ]
