"""The queue between callers and an isolated extension's workers (see base.py)."""

import functools

from django.conf import settings

from apps.common.backends import backend_class


@functools.cache
def _dispatch(dotted):
    return backend_class("IMPERAL_RUNTIME['DISPATCH']", dotted, "Dispatch")()


def get_dispatch():
    """Return the dispatch IMPERAL_RUNTIME['DISPATCH'] names (one per process)."""
    return _dispatch(settings.IMPERAL_RUNTIME["DISPATCH"])
