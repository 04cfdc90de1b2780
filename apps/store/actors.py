"""Who a write is recorded as in the audit trail, and the values of its audit row.

Every write names its actor (AuditEntry.Actor); an operator's also names the
operator (their username), so no operator write is anonymous, and carries
what it changed (apps.store.changes).
"""

from . import validation
from .models import AuditEntry

ACTORS = frozenset(AuditEntry.Actor.values)
OPERATOR = AuditEntry.Actor.OPERATOR
OPERATOR_MAX_CHARS = 150  # AuditEntry.operator: a Django username


def check_actor(actor, operator=""):
    """Raise ValueError unless ``actor`` is known and ``operator`` names the staff
    user exactly when the actor is ``operator`` (an operator's write is never
    anonymous)."""
    if actor not in ACTORS:
        raise ValueError(f"store: actor must be one of {sorted(ACTORS)}, got {actor!r}")
    if not isinstance(operator, str):
        raise TypeError(
            f"store: operator must be a username string, got {operator!r:.40}"
        )
    if (actor == OPERATOR) != bool(operator):
        raise ValueError(
            "store: an operator's write names its operator, and only an operator's "
            f"(actor {actor!r}, operator {operator[:40]!r})"
        )
    if len(operator) > OPERATOR_MAX_CHARS or "\x00" in operator:
        raise ValueError(
            f"store: operator must be a username of at most {OPERATOR_MAX_CHARS} "
            "characters without NUL"
        )


def audit_values(op, actor, operator="", change=None):
    """Return the audit values of a write: op, actor, operator, change (JSON text)."""
    return (op, actor, operator, None if change is None else validation.encode(change))
