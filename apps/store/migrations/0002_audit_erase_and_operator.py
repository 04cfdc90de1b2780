"""Audit trail: the erase of a whole partition, and the operator as an actor."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("store", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(
            model_name="auditentry",
            name="actor",
            field=models.CharField(
                choices=[
                    ("user", "User"),
                    ("system", "System"),
                    ("system-as-user", "System As User"),
                    ("gateway", "Gateway"),
                    ("operator", "Operator"),
                ],
                max_length=16,
            ),
        ),
        migrations.AlterField(
            model_name="auditentry",
            name="op",
            field=models.CharField(
                choices=[
                    ("create", "Create"),
                    ("update", "Update"),
                    ("set", "Set"),
                    ("delete", "Delete"),
                    ("erase", "Erase"),
                ],
                max_length=16,
            ),
        ),
    ]
