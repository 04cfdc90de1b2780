"""Moving every sealed value to the newest key of IMPERAL_SECRETS_KEYS (after a rotation)."""

import logging
from dataclasses import asdict, dataclass

from django.db import transaction
from django.views.decorators.debug import sensitive_variables

from . import keys
from .models import SecretValue

logger = logging.getLogger(__name__)

BATCH = 500
KEY_FIELDS = ("tenant_id", "app_id", "user_id", "scope", "name")


@dataclass
class Reencrypted:
    """What one re-encryption did: counts only, never a value."""

    newest_key: str
    pending: int = 0  # values under an older key when it started
    reencrypted: int = 0
    unopened: int = 0  # under a key no longer configured, or failing their tag
    changed_meanwhile: int = 0  # rewritten by someone else during the run

    def as_dict(self):
        return asdict(self)


def reencrypt(batch=BATCH, progress=None, keyring=None):
    """Seal every value not under the newest key again under it; return Reencrypted.

    Walks the rows by id, ``batch`` per transaction; a row rewritten meanwhile
    is left to its writer (which sealed it under the newest key). Values that
    cannot be opened stay as they are and are counted (and logged by row,
    never by value). Running it again finds nothing to do. ``progress(done,
    pending)`` is called after each batch.
    """
    keyring = keyring or keys.keyring()
    newest = keyring.newest.id
    rows = SecretValue.objects.exclude(key_id=newest)
    result = Reencrypted(newest_key=newest, pending=rows.count())
    after = 0
    while True:
        page = list(
            rows.filter(pk__gt=after)
            .order_by("pk")
            .values("pk", *KEY_FIELDS, "key_id", "ciphertext", "updated_at")[:batch]
        )
        if not page:
            return result
        with transaction.atomic():
            for row in page:
                _reseal(keyring, row, result)
        after = page[-1]["pk"]
        if progress is not None:
            progress(result.reencrypted + result.unopened, result.pending)


@sensitive_variables("plaintext")
def _reseal(keyring, row, result):
    context = keys.value_context(*(row[field] for field in KEY_FIELDS))
    try:
        plaintext = keyring.open(row["key_id"], row["ciphertext"], context)
    except (keys.UnknownKey, keys.Tampered) as exc:
        result.unopened += 1
        logger.error(
            "secret %s/%s/%s (%s) not re-encrypted: %s",
            row["app_id"],
            row["user_id"],
            row["name"],
            row["scope"],
            exc,
        )
        return
    key_id, sealed = keyring.seal(plaintext, context)
    updated = SecretValue.objects.filter(
        pk=row["pk"], key_id=row["key_id"], updated_at=row["updated_at"]
    ).update(key_id=key_id, ciphertext=sealed)
    if updated:
        result.reencrypted += 1
    else:
        result.changed_meanwhile += 1
