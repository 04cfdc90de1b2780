"""The vault's keys (IMPERAL_SECRETS_KEYS) and its authenticated cipher, AES-256-GCM.

A value is sealed under the newest key with a fresh 96-bit nonce and the
value's *context* (its tenant, extension, owner, scope and name) as
associated data: a sealed value copied to another row fails its tag and
never opens there. Older keys only open values; ``manage.py
reencrypt_secrets`` moves every value to the newest key, after which an old
key can be removed. Key material never appears in a message or a repr.
"""

import base64
import binascii
import functools
import hashlib
import json
import os
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .plaintext import SecretBytes

SETTING = "IMPERAL_SECRETS_KEYS"
KEY_BYTES = 32
NONCE_BYTES = 12
# An entry of IMPERAL_SECRETS_KEYS naming the key derived from SECRET_KEY, so
# a deployment that started without keys can rotate away from it.
DERIVED_ENTRY = "SECRET_KEY"
DERIVATION_INFO = b"imperal-platform secrets vault key v1"
KEY_ID_LABEL = b"imperal-platform secrets key id v1\x00"
CONTEXT_VERSION = "v1"
MAKE_ONE = (
    "python -c 'import base64, os; "
    "print(base64.urlsafe_b64encode(os.urandom(32)).decode())'"
)


class UnknownKey(Exception):
    """A value was sealed under a key the keyring does not hold; ``key_id`` names it."""

    def __init__(self, key_id):
        super().__init__(f"no configured key has id {key_id!r}")
        self.key_id = key_id


class Tampered(Exception):
    """A value failed its tag: altered, truncated, or moved from another row."""


@dataclass(frozen=True)
class Key:
    """One AES-256 key and its id (a hash of the key, safe to store and show)."""

    id: str
    aead: AESGCM = field(repr=False, compare=False)

    @classmethod
    def from_material(cls, material):
        digest = hashlib.sha256(KEY_ID_LABEL + material).hexdigest()
        return cls(id=digest[:16], aead=AESGCM(material))


class Keyring:
    """The configured keys, newest first: the newest seals, every one opens."""

    def __init__(self, keys):
        if not keys:
            raise ImproperlyConfigured(f"{SETTING}: the keyring needs a key")
        self.keys = tuple(keys)
        self.by_id = {key.id: key for key in reversed(self.keys)}

    @property
    def newest(self):
        return self.keys[0]

    def seal(self, plaintext, context):
        """Return (key id, nonce + ciphertext + tag) of ``plaintext`` bound to ``context``."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = self.newest.aead.encrypt(nonce, plaintext, context)
        return self.newest.id, nonce + sealed

    def open(self, key_id, blob, context):
        """Return the plaintext as SecretBytes; raise UnknownKey or Tampered."""
        key = self.by_id.get(key_id)
        if key is None:
            raise UnknownKey(key_id)
        blob = bytes(blob)
        try:
            return SecretBytes(
                key.aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], context)
            )
        except (InvalidTag, ValueError):
            raise Tampered("the value failed its integrity check") from None


def value_context(tenant_id, app_id, owner, scope, name):
    """Return the associated data binding a sealed value to its row."""
    fields = [CONTEXT_VERSION, tenant_id, app_id, owner, scope, name]
    return json.dumps(fields, separators=(",", ":")).encode()


def keyring():
    """Return the keyring of IMPERAL_SECRETS_KEYS (or of SECRET_KEY when it is empty).

    Raises ImproperlyConfigured naming the entry (never its value) when one
    is not a key.
    """
    configured = tuple(getattr(settings, SETTING, None) or ())
    return _keyring(configured, settings.SECRET_KEY)


@functools.lru_cache(maxsize=8)
def _keyring(configured, secret_key):
    entries = configured or (DERIVED_ENTRY,)
    keys = [
        Key.from_material(_material(entry, position, len(entries), secret_key))
        for position, entry in enumerate(entries, start=1)
    ]
    return Keyring(keys)


def _material(entry, position, count, secret_key):
    if entry == DERIVED_ENTRY:
        return derived_material(secret_key)
    try:
        material = base64.urlsafe_b64decode(entry + "=" * (-len(entry) % 4))
    except (binascii.Error, ValueError):
        material = b""
    if len(material) != KEY_BYTES:
        raise ImproperlyConfigured(
            f"{SETTING}: entry {position} of {count} is not a key: each entry is "
            f"{KEY_BYTES} random bytes in URL-safe base64 (make one with: "
            f"{MAKE_ONE}), or {DERIVED_ENTRY} for the key derived from SECRET_KEY"
        )
    return material


def derived_material(secret_key):
    """Return the key HKDF-SHA256 derives from ``secret_key`` (the default key)."""
    return HKDF(
        algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=DERIVATION_INFO
    ).derive(secret_key.encode())
