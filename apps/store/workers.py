"""Worker threads that run the store for the async face on PostgreSQL.

Django's ``sync_to_async`` runs every call on one shared thread; these workers
each own a psycopg connection (prepared statements, autocommit), so store calls
from many coroutines run side by side and never block the event loop.
"""

import asyncio
import atexit
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from .connections import WorkerConnection
from .core import DocumentStore

_lock = threading.Lock()
_local = threading.local()
_connections = set()  # every open worker connection, for close_all()
_executor = None
_executor_size = 0


def run(size, method, *args):
    """Return a future of ``DocumentStore.<method>(*args)`` on one of ``size`` workers."""
    loop = asyncio.get_running_loop()
    return loop.run_in_executor(_pool(size), _call, method, args)


def close_all():
    """Close every worker connection (each reconnects on its next call)."""
    with _lock:
        for connection in _connections:
            connection.close()
        _connections.clear()


def _call(method, args):
    return getattr(_store(), method)(*args)


def _store():
    store = getattr(_local, "store", None)
    if store is not None and store.conn.usable:
        return store
    connection = WorkerConnection()
    with _lock:
        if store is not None:
            _connections.discard(store.conn)
        _connections.add(connection)
    _local.store = DocumentStore(connection)
    return _local.store


def _pool(size):
    global _executor, _executor_size
    if _executor is None or _executor_size != size:
        with _lock:
            if _executor is None or _executor_size != size:
                if _executor is not None:
                    _executor.shutdown(wait=False)
                _executor = ThreadPoolExecutor(size, thread_name_prefix="store")
                _executor_size = size
    return _executor


def _forget_after_fork():
    # A forked child (Celery prefork) inherits neither the threads nor the
    # right to use the parent's sockets.
    global _executor, _local, _lock
    _executor, _local, _lock = None, threading.local(), threading.Lock()
    _connections.clear()


os.register_at_fork(after_in_child=_forget_after_fork)
atexit.register(close_all)
