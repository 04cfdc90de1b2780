"""A document's audit history as the console shows it: who wrote it, when, and
for an operator's write what it changed, path by path."""

import json

from apps.store.history import document_history

from .site import seconds

VALUE_SHOWN_CHARS = 300
# Paths shown under each entry of the history (the rest are counted).
PATHS_SHOWN = 20


def rows(part, collection, doc_id):
    """Return the document's audit entries, newest first, as the page's rows."""
    return [_row(entry) for entry in document_history(part, collection, doc_id)]


def _row(entry):
    change = entry.change or {"changes": [], "more": 0}
    listed = change_rows(change)
    return {
        "at": seconds(entry.at),
        "op": entry.op,
        "actor": entry.actor,
        "operator": entry.operator,
        "etag": entry.etag,
        "changes": listed[:PATHS_SHOWN],
        "more": change.get("more", 0) + max(0, len(listed) - PATHS_SHOWN),
    }


def change_rows(change, shown_chars=VALUE_SHOWN_CHARS):
    """Return each path of a change (apps.store.changes) with its two sides,
    each {"kind": value|absent|not-kept|hidden, "text"}."""
    return [
        {
            "path": ".".join(entry["path"]),
            "before": _side(entry, "before", shown_chars),
            "after": _side(entry, "after", shown_chars),
        }
        for entry in change.get("changes", [])
    ]


def _side(entry, side, shown_chars):
    if entry.get("hidden") and side in entry:
        return {"kind": "hidden", "text": "hidden (the key looks like a credential)"}
    if side in entry:
        text = json.dumps(entry[side], ensure_ascii=False)
        if len(text) > shown_chars:
            text = text[: shown_chars - 1] + "…"
        return {"kind": "value", "text": text}
    if f"{side}_bytes" in entry:
        size = entry[f"{side}_bytes"]
        return {"kind": "not-kept", "text": f"{size:,} bytes of JSON, not kept"}
    return {"kind": "absent", "text": "absent"}
