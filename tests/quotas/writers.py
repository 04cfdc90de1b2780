"""Writers racing one quota: threads released together by a barrier, each on its
own database connection (closed when it ends), each ending passed or refused."""

import threading

from django.db import connections

from apps.quotas.errors import QuotaExceeded

WRITERS = 8


def race(write, prepare=None, writers=WRITERS):
    """Run ``write(index, prepared)`` in ``writers`` threads released together; return
    the sorted outcomes, "passed" or "refused" (it raised QuotaExceeded).

    ``prepare(index)`` runs in the thread before the barrier (a connection of
    its own, say); what it returns is ``prepared``.
    """
    barrier, outcomes = threading.Barrier(writers), []

    def writer(index):
        try:
            prepared = prepare(index) if prepare else None
            barrier.wait()
            write(index, prepared)
            outcomes.append("passed")
        except QuotaExceeded:
            outcomes.append("refused")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(outcomes)
