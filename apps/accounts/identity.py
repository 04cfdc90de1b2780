"""Turn platform users into imperal-sdk's UserContext, and the system identity."""

from imperal_sdk.types.identity import TenantContext, UserContext

from .models import SYSTEM_ID, User

__all__ = [
    "SYSTEM_ID",
    "PlatformUserContext",
    "system_user_context",
    "tenant_context",
    "user_context",
    "user_context_for_id",
]


class PlatformUserContext(UserContext):
    """imperal-sdk's UserContext, plus ``.id`` (public extensions use it)."""

    @property
    def id(self):
        return self.imperal_id

    @property
    def is_system(self):
        return self.imperal_id == SYSTEM_ID


def user_context(user):
    """Return the PlatformUserContext an extension sees for a platform ``User``."""
    return PlatformUserContext(
        imperal_id=user.imperal_id,
        email=user.email or "",
        tenant_id=user.tenant_id,
        agency_id=user.agency_id or None,
        role=user.role,
        scopes=list(user.scopes or []),
        is_active=user.is_active,
    )


def user_context_for_id(imperal_id, tenant_id="default"):
    """Return the context of a known user, or a minimal one for an id only the data knows.

    Fan-out reaches users by the ids found in stored data; such a user may not
    have a row here (accounts can live in an external identity provider).
    """
    user = User.objects.filter(imperal_id=imperal_id, tenant_id=tenant_id).first()
    if user is not None:
        return user_context(user)
    return PlatformUserContext(
        imperal_id=imperal_id, email="", tenant_id=tenant_id, role="user"
    )


def system_user_context(tenant_id="default"):
    """Return the ``"__system__"`` identity schedules and signals run as."""
    return PlatformUserContext(
        imperal_id=SYSTEM_ID,
        email="",
        tenant_id=tenant_id,
        role="system",
        scopes=["*"],
    )


def tenant_context(tenant_id):
    """Return imperal-sdk's TenantContext for ``tenant_id``."""
    return TenantContext(tenant_id=tenant_id, name=tenant_id)
