"""What a write changed in a document: each path whose value differs, before and after.

The audit trail keeps one of these on every operator write (``AuditEntry.change``)
and the console shows it on the document's history; the console's conflict page
compares the operator's edit with the stored document the same way.

A change is JSON values::

    {"changes": [{"path": ["status"], "before": "open", "after": "done"},
                 {"path": ["tags"], "after": ["x"]},        # added
                 {"path": ["draft"], "before": true},       # removed
                 {"path": ["body"], "before_bytes": 3145728, "after": "…"}],
     "more": 0}

Objects on both sides are compared key by key (the path goes down into them);
anything else is compared whole, with the store's JSON equality. Bounds, so an
audit row stays small whatever the document: a value is kept only while its
JSON is at most ``value_max_bytes`` and the change's values add up to at most
``max_bytes`` (IMPERAL_AUDIT_CHANGE_MAX_BYTES); past that a side keeps its size
(``before_bytes`` / ``after_bytes``) instead. At most MAX_CHANGES paths are
listed; ``more`` counts the rest. With ``hide`` (the audit trail's default),
values under keys that look like credentials are replaced as Django's error
reports replace them (its DEFAULT_EXCEPTION_REPORTER_FILTER), the path kept and
``hidden`` set: the trail says a password changed, never what it is.
"""

from django.conf import settings
from django.views.debug import get_default_exception_reporter_filter

from . import validation
from .query import json_equal

DEFAULT_MAX_BYTES = 16 * 1024
VALUE_MAX_BYTES = 2048
MAX_CHANGES = 100
_ABSENT = object()


def audit_max_bytes():
    """Return the operator's budget for the values of one audited change."""
    return getattr(settings, "IMPERAL_AUDIT_CHANGE_MAX_BYTES", DEFAULT_MAX_BYTES)


def document_change(
    before,
    after,
    *,
    hide=True,
    max_bytes=None,
    value_max_bytes=VALUE_MAX_BYTES,
):
    """Return the change from ``before`` to ``after`` (documents' data, None for
    no document), as the module docstring shows; ``{"changes": [], "more": 0}``
    when they are equal."""
    found = []
    _walk({} if before is None else before, {} if after is None else after, (), found)
    keeper = _Keeper(
        audit_max_bytes() if max_bytes is None else max_bytes, value_max_bytes, hide
    )
    listed = [keeper.entry(path, old, new) for path, old, new in found[:MAX_CHANGES]]
    return {"changes": listed, "more": max(0, len(found) - MAX_CHANGES)}


def looks_secret(key):
    """Return whether a key's name looks like a credential's (Django's rule)."""
    return bool(get_default_exception_reporter_filter().hidden_settings.search(key))


def _walk(before, after, path, found):
    """Append (path, before, after) of every differing value to ``found``."""
    for key in [*before, *(k for k in after if k not in before)]:
        old, new = before.get(key, _ABSENT), after.get(key, _ABSENT)
        here = (*path, key)
        if isinstance(old, dict) and isinstance(new, dict):
            _walk(old, new, here, found)
        elif old is _ABSENT or new is _ABSENT or not json_equal(old, new):
            found.append((here, old, new))


class _Keeper:
    """Turns found differences into entries within the byte budget."""

    def __init__(self, max_bytes, value_max_bytes, hide):
        self.left = max_bytes
        self.value_max = value_max_bytes
        self.filter = get_default_exception_reporter_filter() if hide else None

    def entry(self, path, old, new):
        """Return one change entry: the path, and each side's value or its size."""
        entry = {"path": list(path)}
        hidden = self.filter is not None and any(map(looks_secret, path))
        if hidden:
            entry["hidden"] = True
        for side, value in (("before", old), ("after", new)):
            if value is _ABSENT:
                continue
            if hidden:
                value = self.filter.cleansed_substitute
            elif self.filter is not None:
                value = self.filter.cleanse_setting("", value)
            size = len(validation.encode(value).encode())
            if self._take(size):
                entry[side] = value
            else:
                entry[f"{side}_bytes"] = size
        return entry

    def _take(self, size):
        if size > self.value_max or size > self.left:
            return False
        self.left -= size
        return True
