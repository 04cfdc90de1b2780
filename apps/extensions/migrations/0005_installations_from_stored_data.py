"""Users who already hold documents in an extension have used it: record them as
installed, so on_install does not fire for them again and their skeleton sections
are refreshed from the start."""

from django.db import migrations

PRIVILEGED_IDS = ("__system__", "__webhook__")
BATCH = 1000


def installations_from_documents(apps, schema_editor):
    Document = apps.get_model("store", "Document")
    Installation = apps.get_model("extensions", "Installation")
    db = schema_editor.connection.alias
    partitions = (
        Document.objects.using(db)
        .exclude(user_id__in=PRIVILEGED_IDS)
        .values_list("tenant_id", "app_id", "user_id")
        .distinct()
    )
    Installation.objects.using(db).bulk_create(
        (
            Installation(tenant_id=tenant, app_id=app, user_id=user)
            for tenant, app, user in partitions.iterator()
        ),
        batch_size=BATCH,
        ignore_conflicts=True,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("extensions", "0004_skeletons_webhooks_lifecycle"),
        ("store", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(installations_from_documents, migrations.RunPython.noop)
    ]
