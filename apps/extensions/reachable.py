"""What an extension may hold: the one allow-list of types reachable from its ``ctx``.

A handler reaches objects from ``ctx`` by public names (no leading underscore)
and by the language's protocols: calling, awaiting, ``async for``, ``async
with``, iterating. Every object reached so must be of a kind :func:`kind_of`
allows: a plain value, a container of allowed items, an exception, one of the
OBJECT_TYPES below (each reached in turn through its own public names), an
instance or function of the extension's own code, a bound method of any of
these, or one of these classes. Anything else — a backend, a pool, a Django
connection, a model class, instance or manager, settings, a registry, another
extension's Extension, a cache core, a module — is a platform internal, and a
path to it is a hole. ``tests/security/test_reachability.py`` walks real
contexts of every kind (tool, panel, schedule, webhook, skeleton refresh,
on_install) through the kernel against this list.

Out of scope, by design, is what Python reaches by introspection rather than
by an API: underscore names (private by convention), dunders (``__class__``,
``__dict__``, ``__self__``, ``__globals__``, ``__traceback__``, ``__cause__``,
…) and the frames and code of running coroutines and generators (``cr_frame``,
``ag_frame``, ``gi_frame``, ``cr_code``, …): from any of them an in-process
extension reaches the whole process. Only a process boundary (an isolated
runtime) closes those.

To let extensions hold a new type, add its dotted name (``module.QualName``) to
OBJECT_TYPES, and make sure nothing public on it leads anywhere else.
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

# Objects an extension holds; each is reached in turn through its public names.
OBJECT_TYPES = frozenset(
    {
        # ctx itself, and the scoped contexts as_user() and list_users give
        "apps.extensions.context.PlatformContext",
        "apps.extensions.context.ScopedUserId",
        # ctx.user, ctx.tenant, ctx.config, ctx.time, ctx.skeleton
        "apps.accounts.identity.PlatformUserContext",
        "imperal_sdk.types.identity.TenantContext",
        "imperal_sdk.config.client.ConfigClient",
        "imperal_sdk.context.TimeContext",
        "imperal_sdk.context._SkeletonAccessGuard",
        # ctx.store and what it returns
        "apps.store.face.StoreFace",
        "imperal_sdk.types.models.Document",
        "imperal_sdk.types.pagination.Page",
        # ctx.http (its refusals are exceptions, walked like results)
        "apps.egress.face.EgressHTTPClient",
        # ctx.secrets and what it returns (values are SecretText, a masked str)
        "apps.secrets.face.SecretsFace",
        "apps.secrets.plaintext.SecretText",
        "imperal_sdk.secrets.client.SecretStatus",
        # ctx.storage and what it returns (files are bytes)
        "apps.files.face.StorageFace",
        "imperal_sdk.types.models.FileInfo",
        # ctx.ai and what it returns
        "apps.ai.face.AIFace",
        "imperal_sdk.ai.client.CompletionResult",
        # ctx.cache (it returns the extension's own models)
        "apps.cache.face.CacheFace",
        # ctx.db: the face, its scopes, connections and results
        "apps.db.face.DbFace",
        "apps.db.face.DbScope",
        "apps.db.face.DbConnection",
        "apps.db.result.Result",
        # ctx.notify, and a webhook context's
        "apps.notifications.face.NotifyFace",
        "apps.extensions.context.RecipientlessNotify",
        # the SDK surfaces this platform does not serve
        "apps.extensions.unserved.UnservedSurface",
    }
)

# Library classes whose own public names (the same on every instance, such as
# pydantic's model_* API or str's methods) are the library's, not the
# platform's: a walk skips them and reaches what the subclass adds.
LIBRARY_BASES = frozenset({"pydantic.main.BaseModel", "builtins.str"})

# What kind_of() answers.
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


def kind_of(obj, own_modules=()):
    """Return how an extension may hold ``obj`` (VALUE, …, ASYNC_ITERATOR), else None.

    ``own_modules`` names the extension's modules: instances of its own
    classes are OBJECTs, its own functions METHODs.
    """
    if isinstance(obj, type):
        return CLASS if _allowed_class(obj, own_modules) else None
    cls = type(obj)
    name = type_name(cls)
    if name in VALUE_TYPES:
        return VALUE
    if name in CONTAINER_TYPES:
        return CONTAINER
    if name in OBJECT_TYPES or is_own(cls, own_modules):
        return OBJECT
    if isinstance(obj, BaseException):
        return ERROR
    if isinstance(obj, _METHOD_TYPES):
        return METHOD if kind_of(obj.__self__, own_modules) is not None else None
    if isinstance(obj, types.FunctionType):
        return METHOD if is_own(obj, own_modules) else None
    if isinstance(obj, types.CoroutineType):
        return AWAITABLE
    if isinstance(obj, types.AsyncGeneratorType):
        return ASYNC_ITERATOR
    return None


def _allowed_class(cls, own_modules):
    name = type_name(cls)
    return (
        name in VALUE_TYPES
        or name in CONTAINER_TYPES
        or name in OBJECT_TYPES
        or is_own(cls, own_modules)
        or issubclass(cls, BaseException)
    )
