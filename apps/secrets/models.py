"""The vault's tables: one row per sealed value, one row per audited access.

Rows are written only through :mod:`apps.secrets.core`, which seals values and
keeps the audit trail; no column ever holds a plaintext.
"""

from django.db import models

from apps.accounts.partition import KEY_COLUMNS, PartitionKeyed, PartitionQuerySet

# The shared owner of scope="app" values (imperal-sdk's "__app__"). The scope
# column is part of every key, so a user who happened to be named so would
# still own only scope="user" rows.
APP_OWNER = "__app__"


class Scope(models.TextChoices):
    USER = "user"
    APP = "app"


class HeldQuerySet(PartitionQuerySet):
    def held_by(self, holder):
        """Rows of one holder: a partition and a scope (see core.Holder)."""
        return self.filter(**holder.partition.fields(), scope=holder.scope)


class SecretValue(PartitionKeyed):
    """One secret's value, sealed: (tenant, app, owner, scope, name).

    ``user_id`` is the owner: the user for scope "user", APP_OWNER for "app".
    """

    scope = models.CharField(max_length=8, choices=Scope.choices)
    name = models.CharField(max_length=63)
    ciphertext = models.BinaryField(
        help_text="AES-256-GCM nonce, ciphertext and tag; bound to the row's key."
    )
    key_id = models.CharField(
        max_length=16, help_text="Which IMPERAL_SECRETS_KEYS key sealed the value."
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    updated_by = models.CharField(max_length=200)
    last_read_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Last audited read (reads are audited once per "
        "IMPERAL_SECRETS_READ_AUDIT_INTERVAL).",
    )

    objects = HeldQuerySet.as_manager()

    class Meta:
        db_table = "secrets_value"
        verbose_name = "secret"
        constraints = [
            models.UniqueConstraint(
                fields=[*KEY_COLUMNS, "scope", "name"], name="secrets_value_key"
            )
        ]
        # Re-encryption walks the rows not yet under the newest key.
        indexes = [models.Index(fields=["key_id", "id"], name="secrets_by_key")]

    def __str__(self):
        return f"{self.app_id}/{self.user_id}/{self.name}"


class SecretAccess(PartitionKeyed):
    """One audited access to a secret: what, whose, who and when; never the value."""

    class Action(models.TextChoices):
        READ = "read"
        WRITE = "write"
        DELETE = "delete"
        ERASE = "erase"

    class Actor(models.TextChoices):
        USER = "user"
        EXTENSION = "extension"
        GATEWAY = "gateway"
        OPERATOR = "operator"

    at = models.DateTimeField()
    scope = models.CharField(max_length=8, choices=Scope.choices)
    name = models.CharField(max_length=63)
    action = models.CharField(max_length=8, choices=Action.choices)
    actor = models.CharField(max_length=16, choices=Actor.choices)
    actor_name = models.CharField(
        max_length=200, help_text="Who: a user, an operator, a credential's label."
    )

    objects = HeldQuerySet.as_manager()

    class Meta:
        db_table = "secrets_access"
        ordering = ["-id"]
        verbose_name_plural = "secret accesses"
        indexes = [
            models.Index(fields=[*KEY_COLUMNS, "at"], name="secrets_access_by_owner"),
            models.Index(fields=["at"], name="secrets_access_by_time"),
        ]

    def __str__(self):
        return f"{self.action} {self.name} by {self.actor} {self.actor_name}"
