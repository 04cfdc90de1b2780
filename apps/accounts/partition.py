"""The partition key every per-user surface is scoped by."""

from dataclasses import dataclass

from .models import SYSTEM_ID


@dataclass(frozen=True)
class Partition:
    """(tenant_id, app_id, user_id): one user's data inside one extension."""

    tenant_id: str
    app_id: str
    user_id: str

    @property
    def is_system(self):
        return self.user_id == SYSTEM_ID

    def for_user(self, user_id):
        """Return the same tenant and extension's partition for another user."""
        return Partition(self.tenant_id, self.app_id, user_id)

    def __str__(self):
        return f"{self.tenant_id}/{self.app_id}/{self.user_id}"
