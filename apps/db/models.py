"""The record of extensions' SQL migrations applied to their own schemas."""

from django.db import models


class ExtensionMigrationQuerySet(models.QuerySet):
    def of_extension(self, app_id):
        """Migrations applied for ``app_id``, oldest file first."""
        return self.filter(app_id=app_id).order_by("filename")


class ExtensionMigration(models.Model):
    """One SQL file of an extension's ``migrations_dir``, applied once."""

    app_id = models.CharField(max_length=128)
    filename = models.CharField(max_length=255)
    checksum = models.CharField(
        max_length=64, help_text="SHA-256 of the file's bytes when it was applied."
    )
    applied_at = models.DateTimeField(auto_now_add=True)

    objects = ExtensionMigrationQuerySet.as_manager()

    class Meta:
        ordering = ["app_id", "filename"]
        constraints = [
            models.UniqueConstraint(
                fields=["app_id", "filename"], name="db_extmigration_once"
            )
        ]

    def __str__(self):
        return f"{self.app_id}: {self.filename}"
