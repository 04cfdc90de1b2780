"""ApiToken: an optional expiry, and the permission to call extensions as any user."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_securityevent_aggregated"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="apitoken",
            options={
                "permissions": [
                    (
                        "act_for_users",
                        "Can call extensions as any user (Imperal's call route)",
                    )
                ]
            },
        ),
        migrations.AddField(
            model_name="apitoken",
            name="expires_at",
            field=models.DateTimeField(
                blank=True,
                help_text="Refused from this time on; empty: never.",
                null=True,
            ),
        ),
    ]
