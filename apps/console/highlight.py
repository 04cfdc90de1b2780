"""JSON pretty-printed and highlighted on the server: escaped HTML with spans.

The classes (``j-key``, ``j-str``, ``j-num``, ``j-lit``, ``j-pun``) are styled
by the console's stylesheet (static console/console.css); no script and nothing
fetched from outside.
"""

import json
import re

from django.utils.html import escape
from django.utils.safestring import mark_safe

_TOKEN = re.compile(
    r'(?P<str>"(?:[^"\\]|\\.)*")(?P<colon>\s*:)?'
    r"|(?P<num>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)"
    r"|(?P<lit>true|false|null)"
    r"|(?P<pun>[{}\[\],])"
)


def highlighted(value):
    """Return ``value`` as indented JSON in safe HTML, every token in a span."""
    return highlighted_text(pretty(value))


def pretty(value):
    """Return ``value`` as the indented JSON text the console shows and edits."""
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False)


def highlighted_text(text):
    """Return JSON ``text`` (whole or cut short) as safe HTML, tokens in spans."""
    out, position = [], 0
    for match in _TOKEN.finditer(text):
        out.append(escape(text[position : match.start()]))
        out.append(_span(match))
        position = match.end()
    out.append(escape(text[position:]))
    return mark_safe("".join(out))


def _span(match):
    if match.group("str") is not None:
        kind = "j-key" if match.group("colon") else "j-str"
        span = f'<span class="{kind}">{escape(match.group("str"))}</span>'
        return span + escape(match.group("colon") or "")
    kind = next(k for k in ("num", "lit", "pun") if match.group(k) is not None)
    return f'<span class="j-{kind}">{escape(match.group(kind))}</span>'
