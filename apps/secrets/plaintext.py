"""A secret's plaintext as the vault hands it around: text and bytes whose repr is masked.

Tracebacks that print their frames' locals (Python's ``capture_locals``, error
trackers, debuggers) and assertion messages show ``SecretText('********')``.
Every face wraps a value the moment it arrives (:func:`as_secret`), so no frame
of the platform holds a plain copy; the value itself is unchanged.
"""

MASK = "********"


class SecretText(str):
    """A secret's text: a ``str`` (what imperal-sdk's ``ctx.secrets.get`` returns)
    whose repr never shows it."""

    __slots__ = ()

    def __repr__(self):
        return f"SecretText('{MASK}')"


class SecretBytes(bytes):
    """A secret's UTF-8 bytes, on their way to or from the cipher; repr masked."""

    __slots__ = ()

    def __repr__(self):
        return f"SecretBytes(b'{MASK}')"


def as_secret(value):
    """Return ``value`` as SecretText when it is text; anything else unchanged (the
    vault's validation names what it is)."""
    if isinstance(value, str) and not isinstance(value, SecretText):
        return SecretText(value)
    return value
