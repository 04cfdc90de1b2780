"""``/v1/secrets/{app}…``: imperal-sdk's SecretClient routes over the vault's core.

Paths, headers and answers are those of imperal-sdk 6.3.7's ``secrets/client.py``:
``GET …/{name}`` → ``{"value"}`` (404 when not set), ``PUT …/{name}``
``{"value"}`` → 200, ``DELETE …/{name}`` → ``{"was_set"}``, ``GET …/{name}/meta``
→ ``{"is_set", …}`` and ``GET /v1/secrets/{app}`` → ``[{name, description,
is_set, last_accessed_at}]``. The extension is the writer (its write_mode rules).

A secret is reached only with a credential bound to one user: a call token, or
a service token issued for that user. An extension-wide token is refused (and
recorded): it would otherwise read any user's secrets by naming them.
"""

from django.views.decorators.debug import sensitive_variables
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from apps.accounts.security import record_threat
from apps.common.timestamps import rfc3339
from apps.extensions.registry import secret_specs
from apps.secrets.core import Actor, Vault, declared
from apps.secrets.models import SecretAccess
from apps.secrets.plaintext import as_secret

from .. import wire
from ..authentication import (
    BearerCallTokenAuthentication,
    BearerServiceTokenAuthentication,
    CallTokenAuthentication,
    ServiceTokenAuthentication,
)
from ..identity import GatewayForbidden, acting_partition
from .base import GatewayView

VAULT = Vault()
# A value read over the wire must not be kept by any cache on the way.
NO_STORE = {"Cache-Control": "no-store"}


class SecretsView(GatewayView):
    """A /v1/secrets/ route: imperal-sdk's SecretClient sends ``Authorization: Bearer``."""

    authentication_classes = [
        CallTokenAuthentication,
        BearerCallTokenAuthentication,
        BearerServiceTokenAuthentication,
        ServiceTokenAuthentication,
    ]

    def acting(self, app):
        """Return (partition, SecretSpecs by name, Actor) of this request.

        Raises GatewayForbidden (recorded) for an extension-wide credential or
        a request naming another extension, tenant or user.
        """
        request = self.request
        identity = request.user
        if identity.is_extension_wide:
            record_threat(
                "gateway_secrets_extension_wide",
                identity.own_partition(),
                credential=identity.credential,
            )
            raise GatewayForbidden(
                f"gateway: secrets are reached only with a credential bound to one "
                f"user (a call token, or manage.py ext token {identity.app_id} "
                f"--user UID); {identity.credential} is extension-wide"
            )
        partition = acting_partition(request, request.query_params, path_app=app)
        actor = Actor(
            SecretAccess.Actor.GATEWAY,
            f"{identity.credential} for {partition.user_id}",
        )
        return partition, secret_specs(app), actor


class SecretList(SecretsView):
    """``GET /v1/secrets/{app}`` → every declared secret's state, never a value."""

    def get(self, request, app):
        partition, specs, _ = self.acting(app)
        return Response([_state(d) for d in VAULT.details(partition, specs)])


class SecretItem(SecretsView):
    """``GET|PUT|DELETE /v1/secrets/{app}/{name}``."""

    def get(self, request, app, name):
        partition, specs, actor = self.acting(app)
        value = VAULT.get(partition, declared(specs, app, name), actor)
        if value is None:
            raise NotFound(f"secret {name!r} of extension {app!r} is not set")
        return Response({"name": name, "value": value}, headers=NO_STORE)

    @sensitive_variables("value")
    def put(self, request, app, name):
        partition, specs, actor = self.acting(app)
        spec = declared(specs, app, name)
        value = as_secret(wire.body_of(request).get("value"))
        VAULT.set(partition, spec, value, actor)
        return Response({"name": name, "is_set": True})

    def delete(self, request, app, name):
        partition, specs, actor = self.acting(app)
        was_set = VAULT.delete(partition, declared(specs, app, name), actor)
        return Response({"name": name, "was_set": was_set})


class SecretMeta(SecretsView):
    """``GET /v1/secrets/{app}/{name}/meta`` → ``{name, is_set, …}``."""

    def get(self, request, app, name):
        partition, specs, _ = self.acting(app)
        detail = VAULT.detail(partition, declared(specs, app, name))
        return Response(_state(detail))


def _state(detail):
    status = detail.sdk()
    return {
        "name": status.name,
        "description": status.description,
        "is_set": status.is_set,
        "last_accessed_at": status.last_accessed_at,
        "updated_at": rfc3339(detail.updated_at) if detail.updated_at else None,
        "scope": detail.spec.scope,
        "write_mode": detail.spec.write_mode,
        "required": detail.spec.required,
    }
