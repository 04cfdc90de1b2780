"""What a quota can bound: one table of kinds, their unit, window and refusal status."""

from dataclasses import dataclass

HELD = ""  # a level held (documents, bytes): it falls when data is deleted
DAY = "day"
MINUTE = "minute"
#: 507 Insufficient Storage for what is held, 429 Too Many Requests for a rate.
STORAGE_STATUS = 507
RATE_STATUS = 429


@dataclass(frozen=True)
class Kind:
    """One bounded resource: ``window`` is HELD, DAY or MINUTE (per user, UTC)."""

    name: str
    unit: str
    window: str
    surface: str

    @property
    def status(self):
        """Return the HTTP status of a refusal of this kind."""
        return STORAGE_STATUS if self.window == HELD else RATE_STATUS


KINDS = {
    kind.name: kind
    for kind in (
        Kind("store.documents", "documents", HELD, "ctx.store"),
        Kind("store.bytes", "bytes", HELD, "ctx.store"),
        Kind("cache.entries", "entries", HELD, "ctx.cache"),
        Kind("files.bytes", "bytes", HELD, "ctx.storage"),
        Kind("ai.tokens", "tokens", DAY, "ctx.ai"),
        Kind("egress.calls", "calls", MINUTE, "ctx.http"),
    )
}
KIND_RULE = f"a quota kind is one of {', '.join(KINDS)}"


def kind_of(name):
    """Return the Kind called ``name``; ValueError naming the kinds otherwise."""
    try:
        return KINDS[name]
    except (KeyError, TypeError):
        raise ValueError(f"quotas: {KIND_RULE}; got {name!r:.60}") from None
