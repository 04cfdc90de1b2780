"""SecurityEvent now belongs to apps.accounts (state only; the table is kept)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("extensions", "0001_initial"),
        ("accounts", "0002_securityevent_from_extensions"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="SecurityEvent")],
            database_operations=[],
        ),
    ]
