"""The one home of which values a metric label may take: known names only.

A label value that came from a request (an app id or tool name in a URL, an
HTTP method) would let any caller grow the series a Prometheus server keeps
without bound. So a label is an app id only if a loaded extension has it, a
handler name only if that extension declares it, a route only a URL pattern's
name, a method or an outcome only one of a fixed set; anything else is
:data:`UNKNOWN`. Which names are loaded is the kernel's to say: it answers
:data:`apps.common.signals.known_name_lookup`.
"""

from apps.common.errors import HTTP_STATUS, error_code
from apps.common.signals import known_name_lookup

#: Not a valid app id or handler name (imperal-sdk's patterns have no
#: parentheses), so no extension's series is ever mixed with made-up ones.
UNKNOWN = "(unknown)"
#: The route of a request no URL pattern matched (a 404 before any view).
UNMATCHED = "(unmatched)"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD = "(other)"
#: The outcome of what succeeded; a failure's is its error code (HTTP_STATUS's keys).
OK = "ok"
OUTCOMES = frozenset({OK, *HTTP_STATUS})


def app_label(app_id):
    """Return ``app_id`` when a loaded extension has it, else UNKNOWN."""
    return app_id if _known(app_id=app_id) else UNKNOWN


def handler_label(app_id, kind, name):
    """Return ``name`` when loaded extension ``app_id`` declares a ``kind``
    ("tool", "panel", "schedule") of that name, else UNKNOWN."""
    if name is None:
        return UNKNOWN
    return name if _known(app_id=app_id, kind=kind, name=name) else UNKNOWN


def route_label(resolver_match):
    """Return the name of the URL pattern a request resolved to (``api:tool-call``),
    its route pattern when the pattern has no name, or UNMATCHED."""
    if resolver_match is None:
        return UNMATCHED
    return resolver_match.view_name or resolver_match.route or UNMATCHED


def method_label(method):
    """Return the HTTP method when it is a standard one, else OTHER_METHOD."""
    return method if method in METHODS else OTHER_METHOD


def outcome_label(exc=None):
    """Return OK for no exception, else the error table's code of ``exc``."""
    return OK if exc is None else error_code(exc)


def choice_label(value, allowed):
    """Return ``value`` when it is one of ``allowed``, else UNKNOWN."""
    return value if value in allowed else UNKNOWN


# The kernel's answers, by question: a label is asked for on every store and cache
# operation, and a signal round costs more than the operation's own bookkeeping.
# Bounded, so made-up names cannot grow it; emptied when the names change.
_answers = {}
ANSWERS_MAX = 4096


def forget_known_names():
    """Drop the remembered answers (the kernel calls this when its names change)."""
    _answers.clear()


def _known(app_id, kind=None, name=None):
    if not all(isinstance(v, str) for v in (app_id, kind, name) if v is not None):
        return False
    question = (app_id, kind, name)
    answer = _answers.get(question)
    if answer is None:
        answers = known_name_lookup.send(
            sender=None, app_id=app_id, kind=kind, name=name
        )
        answer = any(answer for _, answer in answers)
        if len(_answers) < ANSWERS_MAX:
            _answers[question] = answer
    return answer
