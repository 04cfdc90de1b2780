"""What the document page shows of a document: all of it, once.

Up to INLINE_MAX_CHARS of indented JSON the document is shown whole,
highlighted; past that the page shows a preview (long strings, lists and
objects cut, each cut marked with …) and "Show all" renders it whole, plain.
The editor holds the whole text, so a large document is edited after "Show
all"; the page never carries the document twice.
"""

from django.utils.html import escape
from django.utils.safestring import mark_safe

from .highlight import highlighted_text, pretty

INLINE_MAX_CHARS = 256 * 1024
PREVIEW_STRING_CHARS = 2000
PREVIEW_ITEMS = 100
_UNITS = ("bytes", "KB", "MB", "GB")


def shown(data, *, full, editing=False, edit_text=None):
    """Return what the page shows of ``data`` as a dict.

    ``html``: the view (None in the editor); ``editor_text``: the editor's text
    (None when the document is too large to edit without ``full``); ``size``
    and ``size_words``: its JSON's size; ``large``: over INLINE_MAX_CHARS;
    ``cut``: the view is a preview.
    """
    text = pretty(data)
    size = len(text.encode())
    large = len(text) > INLINE_MAX_CHARS
    result = {
        "html": None,
        "editor_text": None,
        "size": size,
        "size_words": size_in_words(size),
        "large": large,
        "cut": False,
    }
    if editing:
        if edit_text is not None:
            result["editor_text"] = edit_text
        elif full or not large:
            result["editor_text"] = text
    elif large and not full:
        cut = pretty(preview(data))[:INLINE_MAX_CHARS]
        result.update(html=highlighted_text(cut), cut=True)
    elif large:
        result["html"] = mark_safe(escape(text))
    else:
        result["html"] = highlighted_text(text)
    return result


def preview(value):
    """Return ``value`` with long strings, lists and objects cut (marked …)."""
    if isinstance(value, str):
        if len(value) <= PREVIEW_STRING_CHARS:
            return value
        rest = len(value) - PREVIEW_STRING_CHARS
        return f"{value[:PREVIEW_STRING_CHARS]}… ({rest:,} more characters)"
    if isinstance(value, list):
        items = [preview(item) for item in value[:PREVIEW_ITEMS]]
        if len(value) > PREVIEW_ITEMS:
            items.append(f"… ({len(value) - PREVIEW_ITEMS:,} more items)")
        return items
    if isinstance(value, dict):
        keys = list(value)[:PREVIEW_ITEMS]
        cut = {key: preview(value[key]) for key in keys}
        if len(value) > PREVIEW_ITEMS:
            cut["…"] = f"{len(value) - PREVIEW_ITEMS:,} more keys"
        return cut
    return value


def size_in_words(size):
    """Return a byte count as people read it ("812 bytes", "3.1 MB")."""
    amount, unit = float(size), 0
    while amount >= 1024 and unit < len(_UNITS) - 1:
        amount, unit = amount / 1024, unit + 1
    return f"{size} bytes" if unit == 0 else f"{amount:.1f} {_UNITS[unit]}"
