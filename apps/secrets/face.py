"""ctx.secrets: imperal-sdk's SecretClient API, a thin async face over the vault's core."""

from asgiref.sync import sync_to_async
from django.views.decorators.debug import sensitive_variables

from apps.common import statements

from .core import Actor, Vault, declared
from .models import SecretAccess
from .plaintext import as_secret

VAULT = Vault()


def secrets_for(ctx):
    """Return the ctx.secrets of ``ctx``: its partition and its extension's declarations."""
    return SecretsFace(
        ctx._partition,
        ctx._extension.secrets,
        ctx._surface_for_user,
    )


class SecretsFace:
    """One partition's secrets, as the extension's handler reads and writes them.

    Methods raise imperal-sdk's errors as the vault's core does
    (SecretNotDeclaredError, SecretWriteForbidden, SecretValueTooLarge,
    SecretVaultUnavailable), a name that is not declared before any I/O.
    """

    def __init__(self, partition, specs, surface_for_user=None):
        self._partition = partition
        self._specs = specs
        self._surface_for_user = surface_for_user
        self._actor = Actor(SecretAccess.Actor.EXTENSION, partition.user_id)

    async def get(self, name):
        """Return the secret's value (a str), or None when it is not set."""
        spec = self._spec(name)
        if statements.pool_size():
            return await VAULT.aget(self._partition, spec, self._actor)
        return await _on_django(VAULT.get, self._partition, spec, self._actor)

    @sensitive_variables("value")
    async def set(self, name, value):
        """Store ``value`` (``write_mode`` "extension" or "both"); return None."""
        value = as_secret(value)
        spec = self._spec(name)
        await _on_django(VAULT.set, self._partition, spec, value, self._actor)

    async def delete(self, name):
        """Delete the value (``write_mode`` "extension" or "both"); return whether
        there was one."""
        spec = self._spec(name)
        return await _on_django(VAULT.delete, self._partition, spec, self._actor)

    async def is_set(self, name):
        """Return whether the secret has a value."""
        spec = self._spec(name)
        return await _on_django(VAULT.is_set, self._partition, spec)

    async def list(self):
        """Return a SecretStatus (name, description, is_set, last_accessed_at) per
        declared secret; never a value."""
        return await _on_django(VAULT.statuses, self._partition, self._specs)

    def for_user(self, user_id):
        """Return ``user_id``'s secrets (imperal-sdk's ``for_user``).

        System context only, exactly as ``ctx.as_user``: any other caller gets
        RuntimeError and a security event.
        """
        return self._surface_for_user("secrets", user_id)

    def _spec(self, name):
        return declared(self._specs, self._partition.app_id, name)

    def __repr__(self):
        return f"<ctx.secrets {self._partition}>"


@sensitive_variables()
def _call(function, *args):
    return function(*args)


_on_django = sync_to_async(_call)
