"""The vault's one core: its operations, sealed values and audit trail.

Every face (ctx.secrets, the gateway's /v1/secrets, the user API, the admin,
the kernel's ``required`` gate, erase and export) calls :class:`Vault` with the
partition it acts in, the extension's declarations (imperal-sdk ``SecretSpec``)
and the :class:`~apps.secrets.rules.Actor` it acts as; the rules each
operation applies are :mod:`apps.secrets.rules`'. Besides them:

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

from apps.accounts.partition import KEY_COLUMNS
from apps.accounts.security import PRIVILEGED_IDS, record_threat
from apps.common import statements

from . import keys
from .errors import SecretUnavailable
from .models import Scope, SecretAccess, SecretValue
from .plaintext import SecretText, as_secret
from .rules import Actor, Holder, check_write, declared, encoded, write_refusal

__all__ = [
    "Actor",
    "Detail",
    "Vault",
    "check_write",
    "declared",
    "encoded",
    "write_refusal",
]

logger = logging.getLogger(__name__)

Action = SecretAccess.Action
DEFAULT_READ_AUDIT_INTERVAL = 60

UNOPENED = Counter(
    "imperal_secrets_unopened_total",
    "Secret values the vault could not open, by reason (unknown_key, integrity).",
    ["app_id", "reason"],
)


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
    """The operation reading one value's row (see apps.common.statements);
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
