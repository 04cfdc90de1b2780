"""The vault's one core: which secret a call names, who may write it, sealed values, audit.

Every face (ctx.secrets, the gateway's /v1/secrets, the user API, the admin,
the kernel's ``required`` gate, erase and export) calls :class:`Vault` with the
partition it acts in, the extension's declarations (imperal-sdk ``SecretSpec``)
and the :class:`Actor` it acts as. The rules live here only:

- a name must be declared (``SecretNotDeclared``);
- a ``scope="user"`` value belongs to the partition's user; a ``scope="app"``
  value is shared by the extension's users in the tenant (owner ``__app__``);
- writes (``set`` and ``delete``): a user's own secret by the user when
  ``write_mode`` is ``user``/``both``, by the extension when it is
  ``extension``/``both``; an app secret by an operator only
  (``SecretWriteRefused``);
- a value is text of at most ``max_bytes`` UTF-8 bytes (``SecretTooLarge``);
- values are sealed under the newest key (:mod:`apps.secrets.keys`); one that
  cannot be opened raises ``SecretUnavailable``, never a driver or cipher error;
- every write and delete is audited, and reads once per
  IMPERAL_SECRETS_READ_AUDIT_INTERVAL per secret: name, actor, time; never the value.
"""

import datetime
import logging
import os
from dataclasses import dataclass

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables
from imperal_sdk.secrets.client import SecretStatus
from prometheus_client import Counter

from apps.accounts.partition import KEY_COLUMNS, Partition
from apps.accounts.security import PRIVILEGED_IDS, record_threat
from imperal_platform import statements

from . import keys
from .errors import (
    SecretNotDeclared,
    SecretTooLarge,
    SecretUnavailable,
    SecretWriteRefused,
)
from .models import APP_OWNER, Scope, SecretAccess, SecretValue
from .plaintext import SecretBytes, SecretText, as_secret

logger = logging.getLogger(__name__)

Action = SecretAccess.Action
DEFAULT_READ_AUDIT_INTERVAL = 60

UNOPENED = Counter(
    "imperal_secrets_unopened_total",
    "Secret values the vault could not open, by reason (unknown_key, integrity).",
    ["app_id", "reason"],
)


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


class Vault:
    """The vault's operations, each run to its end on Django's connection.

    Raises as the module docstring says; a database failure raises
    SecretUnavailable (the SDK's SecretVaultUnavailable).
    """

    clock = staticmethod(timezone.now)

    def __init__(self, keyring=None):
        self._keyring = keyring

    @property
    def keyring(self):
        return self._keyring or keys.keyring()

    @property
    def read_audit_interval(self):
        """Seconds between two audited reads of one secret (0: every read)."""
        return getattr(
            settings,
            "IMPERAL_SECRETS_READ_AUDIT_INTERVAL",
            DEFAULT_READ_AUDIT_INTERVAL,
        )

    # ---- reads -------------------------------------------------------------------

    def get(self, partition, spec, actor):
        """Return the value as SecretText, or None when it is not set.

        An app secret with ``env_fallback`` and no stored value answers that
        environment variable (None when it is unset too).
        """
        holder = Holder.of(partition, spec)
        row = statements.run_on_django(value_row(holder, spec.name), _unavailable)
        if row is not None and self._audit_due(row):
            self._run(self._audit_read, holder, spec.name, row, actor)
        return self._opened(holder, spec, row)

    async def aget(self, partition, spec, actor):
        """:meth:`get` from an event loop: the row is read on the platform's async
        pool (PostgreSQL), the rare audited read on Django's thread."""
        holder = Holder.of(partition, spec)
        row = await statements.run_pooled(value_row(holder, spec.name), _unavailable)
        if row is not None and self._audit_due(row):
            audit = sync_to_async(self._run)
            await audit(self._audit_read, holder, spec.name, row, actor)
        return self._opened(holder, spec, row)

    @sensitive_variables("plaintext")
    def _opened(self, holder, spec, row):
        if row is None:
            return _fallback(spec)
        plaintext = self._open(holder, spec.name, row)
        return SecretText(plaintext.decode("utf-8"))

    def _audit_due(self, row):
        last = row["last_read_at"]
        since = self.clock() - datetime.timedelta(seconds=self.read_audit_interval)
        return last is None or last <= since

    def is_set(self, partition, spec):
        """Return whether the secret has a value (a stored one, or its env fallback)."""
        holder = Holder.of(partition, spec)
        stored = self._run(
            lambda: SecretValue.objects.held_by(holder).filter(name=spec.name).exists()
        )
        return stored or _fallback(spec) is not None

    def statuses(self, partition, specs):
        """Return a SecretStatus per declared secret, in declaration order.

        ``last_accessed_at`` is the last audited read (epoch seconds) or None.
        In a privileged context only the app secrets are listed.
        """
        return [status.sdk() for status in self.details(partition, specs)]

    def details(self, partition, specs):
        """Return a Detail (spec, is_set, updated_at, last_read_at) per listed secret."""
        holders = {}
        for spec in specs.values():
            if spec.scope == Scope.USER and partition.user_id in PRIVILEGED_IDS:
                continue
            holders[spec.name] = Holder.of(partition, spec)
        rows = self._run(self._rows_of, holders)
        details = []
        for name, holder in holders.items():
            spec = specs[name]
            row = rows.get((holder.scope, name))
            details.append(
                Detail(
                    spec=spec,
                    is_set=row is not None or _fallback(spec) is not None,
                    updated_at=row["updated_at"] if row else None,
                    last_read_at=row["last_read_at"] if row else None,
                )
            )
        return details

    def detail(self, partition, spec):
        """Return one secret's Detail; ValueError for a user's secret in a
        privileged context (as :meth:`get`)."""
        Holder.of(partition, spec)
        return self.details(partition, {spec.name: spec})[0]

    def first_missing(self, partition, specs):
        """Return the first ``required`` secret of ``specs`` that is not set, or None."""
        required = {n: s for n, s in specs.items() if s.required}
        if not required:
            return None
        for detail in self.details(partition, required):
            if not detail.is_set:
                return detail.spec
        return None

    # ---- writes ------------------------------------------------------------------

    @sensitive_variables("value")
    def set(self, partition, spec, value, actor):
        """Seal and store ``value``, replacing any; return None."""
        value = as_secret(value)
        check_write(partition.app_id, spec, actor)
        holder = Holder.of(partition, spec)
        key_id, sealed = self.keyring.seal(
            encoded(partition.app_id, spec, value), holder.context(spec.name)
        )
        self._run(self._store, holder, spec.name, key_id, sealed, actor)

    def delete(self, partition, spec, actor):
        """Delete the value; return whether there was one."""
        check_write(partition.app_id, spec, actor)
        holder = Holder.of(partition, spec)
        return self._run(self._delete, holder, spec.name, actor)

    def erase(self, partition, actor):
        """Delete every value the partition's user holds in the extension (all
        names, declared or not); return how many. App secrets are not the user's."""
        holder = Holder(partition, Scope.USER)
        return self._run(self._erase, holder, actor)

    def stored_names(self, partition):
        """Return [(name, updated_at)] of the user's stored values, by name."""
        rows = SecretValue.objects.held_by(Holder(partition, Scope.USER))
        return self._run(
            lambda: list(rows.order_by("name").values_list("name", "updated_at"))
        )

    # ---- statements (run through _run) -------------------------------------------

    def _rows_of(self, holders):
        if not holders:
            return {}
        any_holder = next(iter(holders.values()))
        p = any_holder.partition
        owners = {h.partition.user_id for h in holders.values()}
        rows = SecretValue.objects.filter(
            tenant_id=p.tenant_id,
            app_id=p.app_id,
            user_id__in=owners,
            name__in=list(holders),
        ).values("user_id", "scope", "name", "updated_at", "last_read_at")
        found = {}
        for row in rows:
            holder = holders.get(row["name"])
            if holder is not None and (holder.partition.user_id, holder.scope) == (
                row["user_id"],
                row["scope"],
            ):
                found[(row["scope"], row["name"])] = row
        return found

    def _audit_read(self, holder, name, row, actor):
        now, last = self.clock(), row["last_read_at"]
        with transaction.atomic():
            claimed = SecretValue.objects.filter(
                pk=row["pk"], last_read_at=last
            ).update(last_read_at=now)
            if claimed == 1:
                _audit(holder, name, Action.READ, actor, now)

    def _store(self, holder, name, key_id, sealed, actor):
        now = self.clock()
        row = SecretValue(
            **holder.partition.fields(),
            scope=holder.scope,
            name=name,
            ciphertext=sealed,
            key_id=key_id,
            created_at=now,
            updated_at=now,
            updated_by=f"{actor.kind} {_who(actor)}"[:200],
        )
        with transaction.atomic():
            SecretValue.objects.bulk_create(
                [row],
                update_conflicts=True,
                unique_fields=[*KEY_COLUMNS, "scope", "name"],
                update_fields=["ciphertext", "key_id", "updated_at", "updated_by"],
            )
            _audit(holder, name, Action.WRITE, actor, now)

    def _delete(self, holder, name, actor):
        with transaction.atomic():
            deleted, _ = SecretValue.objects.held_by(holder).filter(name=name).delete()
            if deleted:
                _audit(holder, name, Action.DELETE, actor, self.clock())
        return bool(deleted)

    def _erase(self, holder, actor):
        now = self.clock()
        with transaction.atomic():
            rows = SecretValue.objects.held_by(holder)
            names = list(rows.values_list("name", flat=True))
            rows.delete()
            for name in names:
                _audit(holder, name, Action.ERASE, actor, now)
        return len(names)

    def _open(self, holder, name, row):
        app_id = holder.partition.app_id
        try:
            return self.keyring.open(
                row["key_id"], row["ciphertext"], holder.context(name)
            )
        except keys.UnknownKey as exc:
            UNOPENED.labels(app_id=app_id, reason="unknown_key").inc()
            logger.error(
                "secret %r of %s was sealed under key %s, which %s no longer holds",
                name,
                holder.partition,
                exc.key_id,
                keys.SETTING,
            )
            raise SecretUnavailable(
                f"the value of {name!r} was sealed under key {exc.key_id}, which "
                f"{keys.SETTING} does not hold: the operator must restore that key "
                "(then run manage.py reencrypt_secrets)",
                app_id,
                name,
            ) from None
        except keys.Tampered:
            UNOPENED.labels(app_id=app_id, reason="integrity").inc()
            record_threat("secret_integrity_failure", holder.partition, name=name)
            raise SecretUnavailable(
                f"the value of {name!r} failed its integrity check (altered, or "
                "copied from another row); set it again",
                app_id,
                name,
            ) from None

    @staticmethod
    def _run(function, *args):
        try:
            return function(*args)
        except DatabaseError as exc:
            raise _unavailable(exc) from exc


@dataclass(frozen=True)
class Detail:
    """One declared secret's state, never its value."""

    spec: object
    is_set: bool
    updated_at: datetime.datetime = None
    last_read_at: datetime.datetime = None

    def sdk(self):
        """Return imperal-sdk's SecretStatus of this secret."""
        read = self.last_read_at
        return SecretStatus(
            name=self.spec.name,
            description=self.spec.description,
            is_set=self.is_set,
            last_accessed_at=int(read.timestamp()) if read else None,
        )


def value_row(holder, name):
    """The operation reading one value's row (see imperal_platform.statements);
    it returns {pk, ciphertext, key_id, last_read_at (aware)} or None."""
    p = holder.partition
    rows = yield (
        _SELECT_VALUE,
        [p.tenant_id, p.app_id, p.user_id, holder.scope, name],
    )
    if not rows:
        return None
    pk, ciphertext, key_id, last_read_at = rows[0]
    if last_read_at is not None and last_read_at.tzinfo is None:
        last_read_at = last_read_at.replace(tzinfo=datetime.UTC)  # SQLite's
    return {
        "pk": pk,
        "ciphertext": bytes(ciphertext),
        "key_id": key_id,
        "last_read_at": last_read_at,
    }


# The hot read, in SQL both drivers run: ctx.secrets.get beside ctx.store.get.
_SELECT_VALUE = (
    "SELECT id, ciphertext, key_id, last_read_at FROM secrets_value "
    "WHERE tenant_id = %s AND app_id = %s AND user_id = %s AND scope = %s "
    "AND name = %s"
)


def _unavailable(exc):
    return SecretUnavailable(f"the database failed ({type(exc).__name__}); retry later")


def _fallback(spec):
    """Return an app secret's ``env_fallback`` variable as SecretText, or None."""
    if spec.scope != Scope.APP or not spec.env_fallback:
        return None
    return as_secret(os.environ.get(spec.env_fallback))


def _who(actor):
    return actor.name[:200]


def _audit(holder, name, action, actor, at):
    SecretAccess.objects.create(
        **holder.partition.fields(),
        scope=holder.scope,
        name=name,
        action=action,
        actor=actor.kind,
        actor_name=_who(actor),
        at=at,
    )
