"""What an isolated extension may hold: the allow-list of a worker's ``ctx``.

A handler in a worker reaches objects from its ``ctx`` as in-process (by
public names, calling, awaiting, iterating, entering). Each must be of a kind
an :class:`AllowList` allows — a plain value, a container, an exception, one
of its object types, the extension's own code or a bound method of these.
WORKER lists a worker ctx's types: imperal-sdk's clients and what they
return, and this package's few subclasses of them. Nothing of Django, of the
rest of the platform, nor the worker's runtime token is among them:
``tests/security/test_reachability.py`` walks a real worker's ctx of every
kind of handler against WORKER. The kernel's list (apps.extensions.reachable)
is built on these same rules.

This module is stdlib-only: it is staged into workers with the rest of the
package, where the walk imports it.
"""

import types

# Plain values: nothing is reached through them.
VALUE_TYPES = frozenset(
    {
        "builtins.NoneType",
        "builtins.bool",
        "builtins.int",
        "builtins.float",
        "builtins.str",
        "builtins.bytes",
        "datetime.datetime",
        "datetime.date",
        "datetime.time",
        "datetime.timedelta",
        "decimal.Decimal",
        "uuid.UUID",
    }
)

# Containers: what they hold is reached (a dict's keys and values).
CONTAINER_TYPES = frozenset(
    {
        "builtins.list",
        "builtins.tuple",
        "builtins.dict",
        "builtins.set",
        "builtins.frozenset",
    }
)

# Library classes whose own public names (the same on every instance, such as
# pydantic's model_* API or str's methods) are the library's, not the
# platform's: a walk skips them and reaches what the subclass adds.
LIBRARY_BASES = frozenset({"pydantic.main.BaseModel", "builtins.str"})

# What AllowList.kind_of() answers.
VALUE = "value"
CONTAINER = "container"
OBJECT = "object"  # reached through its public names
ERROR = "error"  # an exception: reached through its public names
METHOD = "method"  # a bound method of an allowed object: its results are reached
CLASS = "class"  # an allowed class (an error class to catch, say): nothing is reached
AWAITABLE = "awaitable"  # a coroutine: what awaiting it gives is reached
ASYNC_ITERATOR = "async iterator"  # an async generator: what it yields is reached

_METHOD_TYPES = (types.MethodType, types.BuiltinMethodType)


def type_name(cls):
    """Return ``cls``'s dotted name; a pydantic generic (Page[Document]) is its origin's."""
    metadata = getattr(cls, "__pydantic_generic_metadata__", None) or {}
    cls = metadata.get("origin") or cls
    return f"{cls.__module__}.{cls.__qualname__}"


def is_own(thing, own_modules):
    """Whether the class or function ``thing`` is defined in one of ``own_modules``
    (the extension's own code)."""
    module = getattr(thing, "__module__", "") or ""
    return any(module == own or module.startswith(own + ".") for own in own_modules)


class AllowList:
    """The object types an extension may hold, and how to tell what it holds."""

    def __init__(self, object_types):
        self.object_types = frozenset(object_types)

    def kind_of(self, obj, own_modules=()):
        """Return how an extension may hold ``obj`` (VALUE, …, ASYNC_ITERATOR), else None.

        ``own_modules`` names the extension's modules: instances of its own
        classes are OBJECTs, its own functions METHODs.
        """
        if isinstance(obj, type):
            return CLASS if self._allowed_class(obj, own_modules) else None
        cls = type(obj)
        name = type_name(cls)
        if name in VALUE_TYPES:
            return VALUE
        if name in CONTAINER_TYPES:
            return CONTAINER
        if name in self.object_types or is_own(cls, own_modules):
            return OBJECT
        if isinstance(obj, BaseException):
            return ERROR
        if isinstance(obj, _METHOD_TYPES):
            allowed = self.kind_of(obj.__self__, own_modules) is not None
            return METHOD if allowed else None
        if isinstance(obj, types.FunctionType):
            return METHOD if is_own(obj, own_modules) else None
        if isinstance(obj, types.CoroutineType):
            return AWAITABLE
        if isinstance(obj, types.AsyncGeneratorType):
            return ASYNC_ITERATOR
        return None

    def _allowed_class(self, cls, own_modules):
        name = type_name(cls)
        return (
            name in VALUE_TYPES
            or name in CONTAINER_TYPES
            or name in self.object_types
            or is_own(cls, own_modules)
            or issubclass(cls, BaseException)
        )


# A worker's ctx: imperal-sdk's clients, what they return, and this package's
# subclasses of them (apps.runtime.worker.context, .http, .db, .fanout).
WORKER = AllowList(
    {
        # ctx itself, and the scoped contexts as_user() and list_users give
        "apps.runtime.worker.context.WorkerContext",
        "apps.runtime.worker.context.ScopedUserId",
        # ctx.user, ctx.tenant, ctx.config, ctx.time, ctx.skeleton
        "apps.runtime.worker.context.WorkerUser",
        "imperal_sdk.types.identity.TenantContext",
        "imperal_sdk.config.client.ConfigClient",
        "imperal_sdk.context.TimeContext",
        "imperal_sdk.context._SkeletonAccessGuard",
        # ctx.store and what it returns
        "apps.runtime.worker.context.CallTokenStoreClient",
        "imperal_sdk.types.models.Document",
        "imperal_sdk.types.pagination.Page",
        # ctx.cache (it returns the extension's own models)
        "imperal_sdk.cache.client.CacheClient",
        # ctx.http (its refusals are exceptions, walked like results)
        "apps.runtime.worker.http.GatewayHTTPClient",
        # ctx.db: the face, its scopes, connections and results
        "apps.runtime.worker.db.WorkerDb",
        "apps.runtime.worker.db.DbScope",
        "apps.runtime.worker.db.DbConnection",
        "apps.runtime.worker.db.Result",
        # ctx.notify, ctx.secrets and what they return
        "apps.runtime.worker.fanout.LedgerNotifyClient",
        "apps.runtime.worker.clients.CallTokenSecretClient",
        "imperal_sdk.secrets.client.SecretStatus",
        # the surfaces a worker is not served (each raises on use)
        "apps.runtime.worker.context.NotServedInWorker",
    }
)
