"""What an in-process extension may hold: the allow-list of types reachable from its ``ctx``.

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
OBJECT_TYPES, and make sure nothing public on it leads anywhere else. An
isolated extension's worker has its own list on the same rules,
apps.runtime.worker.reachable.WORKER (a worker cannot import this module).
"""

from apps.runtime.worker.reachable import (
    ASYNC_ITERATOR,
    AWAITABLE,
    CLASS,
    CONTAINER,
    CONTAINER_TYPES,
    ERROR,
    LIBRARY_BASES,
    METHOD,
    OBJECT,
    VALUE,
    VALUE_TYPES,
    AllowList,
    is_own,
    type_name,
)

__all__ = [
    "ASYNC_ITERATOR",
    "AWAITABLE",
    "CLASS",
    "CONTAINER",
    "CONTAINER_TYPES",
    "ERROR",
    "KERNEL",
    "LIBRARY_BASES",
    "METHOD",
    "OBJECT",
    "OBJECT_TYPES",
    "VALUE",
    "VALUE_TYPES",
    "is_own",
    "kind_of",
    "type_name",
]

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

KERNEL = AllowList(OBJECT_TYPES)


def kind_of(obj, own_modules=()):
    """Return how an in-process extension may hold ``obj``; see AllowList.kind_of."""
    return KERNEL.kind_of(obj, own_modules)
