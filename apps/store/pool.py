"""ctx.store on the platform's async PostgreSQL pool (apps.common.statements).

One pool per process, lent to whichever event loop calls: an ASGI server's one
loop and the fresh loop ``async_to_sync`` makes for each CLI, Celery or REST
call all reuse warm, prepared connections.
"""

from apps.common import statements

from .connections import backend_for, translated

BACKEND = backend_for("postgresql")


def size():
    """Return how many connections the pool may open, 0 when it is off (see statements)."""
    return statements.pool_size()


async def run(operation):
    """Drive a store operation on a pooled connection; return its result.

    Raises StoreUnavailable/StoreFailure for database errors or no free
    connection within IMPERAL_STORE_POOL_TIMEOUT seconds.
    """
    return await statements.run_pooled(operation, translated)


def close_all():
    """Close every idle pooled connection (busy ones go back when released)."""
    statements.close_pool()
