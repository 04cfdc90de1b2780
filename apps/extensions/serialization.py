"""Turn what a handler returns into JSON-ready values.

One rule for both runtimes: the isolated worker applies it to what a handler
returns there, and it may not import the platform, so it lives with the worker.
"""

from apps.runtime.worker.jsonable import to_jsonable

__all__ = ["to_jsonable"]
