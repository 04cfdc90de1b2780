"""Lookups every gateway request makes, remembered for a moment in this process.

A worker's call sends several requests with one credential; each asks whether
its extension is disabled and (a call token) which tenant its user is in. The
answers are kept :attr:`RecentAnswers.ttl` seconds per process, and forgotten
at once in this process when an Extension or User row is saved or deleted
(apps.gateway.apps connects the receivers): another process sees a change
within ``ttl`` seconds.
"""

import threading
import time

from django.conf import settings

from apps.accounts.models import User
from apps.extensions.models import Extension


class RecentAnswers:
    """``lookup(key)``'s answers, each kept ``ttl`` seconds. Thread-safe."""

    ttl = 1.0
    size = 10_000
    clock = staticmethod(time.monotonic)

    def __init__(self, lookup):
        self.lookup = lookup
        self._lock = threading.Lock()
        self._answers = {}  # key -> (answer, until)

    def __call__(self, key):
        """Return ``lookup(key)``, from memory when asked less than ``ttl`` s ago."""
        now = self.clock()
        with self._lock:
            held = self._answers.get(key)
        if held is not None and now < held[1]:
            return held[0]
        answer = self.lookup(key)
        with self._lock:
            if len(self._answers) >= self.size:
                self._answers.clear()
            self._answers[key] = (answer, now + self.ttl)
        return answer

    def forget(self, *args, **kwargs):
        """Forget every answer (a signal receiver: any arguments); return None."""
        with self._lock:
            self._answers.clear()


def _disabled(app_id):
    return Extension.objects.is_disabled(app_id)


def _tenant(user_id):
    tenant = (
        User.objects.filter(imperal_id=user_id).values_list("tenant_id", flat=True)
    ).first()
    return tenant or settings.IMPERAL_DEFAULT_TENANT


# Whether extension ``app_id`` is switched off.
extension_disabled = RecentAnswers(_disabled)
# The tenant of user ``user_id`` (IMPERAL_DEFAULT_TENANT for an id without a row).
tenant_of = RecentAnswers(_tenant)
