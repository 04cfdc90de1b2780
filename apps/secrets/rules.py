"""The vault's rules: which secret a call names, whose value it is, who may write it.

- a name must be declared (``SecretNotDeclared``);
- a ``scope="user"`` value belongs to the partition's user; a ``scope="app"``
  value is shared by the extension's users in the tenant (owner ``__app__``);
- writes (``set`` and ``delete``): a user's own secret by the user when
  ``write_mode`` is ``user``/``both``, by the extension when it is
  ``extension``/``both``; an app secret by an operator only
  (``SecretWriteRefused``);
- a value is text of at most ``max_bytes`` UTF-8 bytes (``SecretTooLarge``).
"""

from dataclasses import dataclass

from django.views.decorators.debug import sensitive_variables

from apps.accounts.partition import Partition
from apps.accounts.security import PRIVILEGED_IDS

from . import keys
from .errors import SecretNotDeclared, SecretTooLarge, SecretWriteRefused
from .models import APP_OWNER, Scope, SecretAccess
from .plaintext import SecretBytes


@dataclass(frozen=True)
class Actor:
    """Who acts on a secret: a kind (SecretAccess.Actor) and a name for the audit."""

    kind: str
    name: str

    @property
    def is_extension(self):
        """Whether the extension acts (in process or through the gateway)."""
        return self.kind in (SecretAccess.Actor.EXTENSION, SecretAccess.Actor.GATEWAY)


@dataclass(frozen=True)
class Holder:
    """Whose value a secret is: a partition (the user's, or the ``__app__`` one) and a scope."""

    partition: Partition
    scope: str

    @classmethod
    def of(cls, partition, spec):
        """Return the holder of ``spec``'s value for a call in ``partition``.

        Raises ValueError for a user's secret in a privileged context, which
        has no user of its own.
        """
        if spec.scope == Scope.APP:
            return cls(partition.for_user(APP_OWNER), Scope.APP)
        if partition.user_id in PRIVILEGED_IDS:
            raise ValueError(
                f"secrets: {spec.name!r} is a per-user secret (scope='user') and "
                f"this context ({partition.user_id}) has no user: reach a user's "
                f"with ctx.as_user(uid).secrets"
            )
        return cls(partition, Scope.USER)

    def context(self, name):
        """Return the associated data sealing ``name``'s value to this holder."""
        p = self.partition
        return keys.value_context(p.tenant_id, p.app_id, p.user_id, self.scope, name)


def declared(specs, app_id, name):
    """Return the SecretSpec ``name`` of ``specs``; raise TypeError or SecretNotDeclared."""
    if not isinstance(name, str):
        raise TypeError(f"secrets: a secret name is a str, got {type(name).__name__}")
    spec = specs.get(name)
    if spec is None:
        raise SecretNotDeclared(app_id, name, specs)
    return spec


def check_write(app_id, spec, actor):
    """Return None when ``actor`` may set or delete ``spec``'s value; else raise
    SecretWriteRefused naming the rule."""
    rule = write_refusal(app_id, spec, actor)
    if rule is not None:
        raise SecretWriteRefused(app_id, spec.name, rule)


def write_refusal(app_id, spec, actor):
    """Return why ``actor`` may not set or delete ``spec``'s value, or None if it may."""
    if spec.scope == Scope.APP:
        if actor.kind == SecretAccess.Actor.OPERATOR:
            return None
        return (
            "it is an app secret (scope='app'): only an operator sets it, in the "
            "admin (Secrets vault)"
        )
    if actor.kind == SecretAccess.Actor.USER:
        if spec.write_mode in ("user", "both"):
            return None
        return f"write_mode={spec.write_mode!r}: only the extension sets it"
    if actor.is_extension:
        if spec.write_mode in ("extension", "both"):
            return None
        return (
            f"write_mode={spec.write_mode!r}: only the user sets it, with PUT "
            f"/api/v1/me/secrets/{app_id}/{spec.name} or the secrets panel; "
            "declare write_mode='extension' or 'both' to set it from the extension"
        )
    return "operators set app secrets (scope='app') only"


@sensitive_variables("value")
def encoded(app_id, spec, value):
    """Return ``value`` as UTF-8 SecretBytes; raise TypeError, ValueError or
    SecretTooLarge."""
    if not isinstance(value, str):
        raise TypeError(
            f"secrets: the value of {spec.name!r} must be a str, got "
            f"{type(value).__name__}"
        )
    try:
        data = SecretBytes(value.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"secrets: the value of {spec.name!r} is not valid text (a lone "
            f"surrogate at position {exc.start})"
        ) from None
    if len(data) > spec.max_bytes:
        raise SecretTooLarge(app_id, spec.name, len(data), spec.max_bytes)
    return data
