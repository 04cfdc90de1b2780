"""Declared tool scopes, enforced against what the user holds in the extension.

A user holds their own scopes (``User.scopes``) plus the extension's declared
``capabilities``: using an extension grants what it declares, as installing
it does on Imperal. A tool whose ``scopes`` reach beyond both (an admin tool,
say) is refused before it runs, with a SecurityEvent the operator sees.
Matching is imperal-sdk's own ``UserContext.has_scope`` (``*``, exact names,
``prefix.*``).
"""

from apps.accounts.partition import Partition
from apps.accounts.security import record_threat

from .errors import InvocationError

REFUSAL_KIND = "tool_scope_refused"


class ScopeForbidden(InvocationError):
    """The user lacks a scope the tool declares; the tool did not run."""

    code = "forbidden"

    def __init__(self, label, user_id, missing):
        super().__init__(
            f"{label} requires scope(s) {missing} that user {user_id!r:.80} does not "
            "hold (their scopes plus the extension's capabilities); an operator "
            "grants scopes in the user's `scopes`"
        )
        self.missing = missing


def with_capabilities(user, ext):
    """Return ``user`` holding its scopes plus ``ext``'s declared capabilities."""
    granted = list(dict.fromkeys([*user.scopes, *(ext.capabilities or [])]))
    if granted == list(user.scopes):
        return user
    return user.model_copy(update={"scopes": granted})


def require_scopes(label, handler, user, app_id):
    """Return None when ``user`` holds every scope ``handler`` declares.

    ``user`` is the context's user (already holding the capabilities). Raises
    ScopeForbidden, after recording a SecurityEvent, otherwise.
    """
    declared = list(getattr(handler.definition, "scopes", None) or [])
    missing = [scope for scope in declared if not user.has_scope(scope)]
    if not missing:
        return
    record_threat(
        REFUSAL_KIND,
        Partition(user.tenant_id, app_id, user.imperal_id),
        tool=handler.name,
        missing=", ".join(missing),
    )
    raise ScopeForbidden(label, user.imperal_id, missing)
