"""My secrets: what an extension declares, whether each is set; setting and deleting mine.

A value goes in and is never answered back: every answer holds names and states.
"""

from django.views.decorators.debug import sensitive_variables
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from apps.common.timestamps import rfc3339
from apps.extensions.registry import secret_specs
from apps.secrets.core import Actor, Vault, declared, write_refusal
from apps.secrets.models import SecretAccess

from ..schema import errors
from ..serializers import (
    MySecretsSerializer,
    SecretDeletedSerializer,
    SecretStateSerializer,
    SecretValueSerializer,
)
from .base import ApiView

VAULT = Vault()


def state(detail, actor):
    """Return one secret's state as JSON values (never its value)."""
    spec = detail.spec
    return {
        "name": spec.name,
        "description": spec.description,
        "scope": spec.scope,
        "write_mode": spec.write_mode,
        "required": spec.required,
        "max_bytes": spec.max_bytes,
        "is_set": detail.is_set,
        "updated_at": rfc3339(detail.updated_at) if detail.updated_at else None,
        "writable": write_refusal("", spec, actor) is None,
    }


class SecretsView(ApiView):
    def actor(self):
        """Return the signed-in user as the vault's actor."""
        return Actor(SecretAccess.Actor.USER, self.request.user.imperal_id)


class MySecrets(SecretsView):
    @extend_schema(
        summary="List the secrets an extension declares, and whether each of mine "
        "is set",
        responses={200: MySecretsSerializer, **errors(404)},
        tags=["my secrets"],
    )
    def get(self, request, app_id):
        """App secrets (scope "app") are shared by the extension's users and set by
        operators; they are listed with whether they are set."""
        specs = secret_specs(app_id)
        details = VAULT.details(self.partition(app_id), specs)
        actor = self.actor()
        return Response(
            {"app_id": app_id, "secrets": [state(d, actor) for d in details]}
        )


class MySecret(SecretsView):
    @extend_schema(
        summary="Set one of my secrets",
        request=SecretValueSerializer,
        responses={200: SecretStateSerializer, **errors(400, 404)},
        tags=["my secrets"],
    )
    @sensitive_variables("value")
    def put(self, request, app_id, name):
        """The value is sealed at rest and never answered back. Refused with 403
        when the extension sets this secret itself (write_mode "extension") or it
        is an app secret; with 413 over the secret's max_bytes."""
        spec = declared(secret_specs(app_id), app_id, name)
        body = SecretValueSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        value = body.validated_data["value"]
        partition = self.partition(app_id)
        VAULT.set(partition, spec, value, self.actor())
        return Response(state(VAULT.detail(partition, spec), self.actor()))

    @extend_schema(
        summary="Delete one of my secrets",
        responses={200: SecretDeletedSerializer, **errors(404)},
        tags=["my secrets"],
    )
    def delete(self, request, app_id, name):
        """Refused with 403 as a PUT is; ``was_set`` says whether there was a value."""
        spec = declared(secret_specs(app_id), app_id, name)
        was_set = VAULT.delete(self.partition(app_id), spec, self.actor())
        return Response({"name": name, "was_set": was_set})
