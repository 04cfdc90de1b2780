"""The kernel Context every tool, panel and schedule handler receives as ``ctx``."""

import datetime
import functools
import importlib
import logging
import numbers
import re
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from imperal_sdk.config.client import ConfigClient
from imperal_sdk.context import Context, _SkeletonAccessGuard

from apps.accounts.identity import tenant_context
from apps.accounts.ids import (
    InvalidUserId,
    check_user_id,
    clipped,
    is_valid_user_id,
)
from apps.accounts.partition import Partition
from apps.accounts.security import (
    PRIVILEGED_IDS,
    SYSTEM_ID,
    WEBHOOK_ID,
    record_threat,
    require_system,
)
from apps.common.webhook_origin import webhook_base_url
from apps.runtime.worker.context import time_context
from apps.store.models import AuditEntry

from .fanout import FanOut
from .unserved import SurfaceNotServed, UnservedProperty, UnservedSurface

logger = logging.getLogger(__name__)

# The one place that says which module builds each per-context surface. Each
# factory takes the PlatformContext and returns the face bound to its partition.
SURFACE_FACTORIES = {
    "store": "apps.store.face.store_for",
    "cache": "apps.cache.face.cache_for",
    "db": "apps.db.face.db_for",
    "notify": "apps.notifications.face.notify_for",
    "http": "apps.egress.face.http_for",
    "secrets": "apps.secrets.face.secrets_for",
    "storage": "apps.files.face.storage_for",
    # None when no model provider is configured: ctx.ai is then unserved.
    "ai": "apps.ai.face.ai_for",
}
Actor = AuditEntry.Actor
# Whose writes the audit trail records: a privileged context's own, and those it
# makes as a user through as_user.
OWN_ACTORS = {SYSTEM_ID: Actor.SYSTEM, WEBHOOK_ID: Actor.WEBHOOK}
SCOPED_ACTORS = {SYSTEM_ID: Actor.SYSTEM_AS_USER, WEBHOOK_ID: Actor.WEBHOOK_AS_USER}
# imperal-sdk Context fields for surfaces that belong to Imperal Cloud.
UNSERVED_FIELDS = ("billing", "extensions")
# Longest ctx.progress message kept: it is logged and stored on one line.
PROGRESS_MESSAGE_MAX_CHARS = 500
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# Whose data a context reaches: fixed once build_context() returns.
IDENTITY_ATTRIBUTES = frozenset(
    {
        "user",
        "tenant",
        "agency_id",
        "store",
        "cache",
        "_cache",
        "db",
        "notify",
        "http",
        "secrets",
        "storage",
        "ai",
        "_partition",
        "skeleton",
        "_raw_skeleton",
        "_actor",
        "_extension",
        "_extension_id",
        "_tool_type",
        "_call_token",
        "_gateway_url",
        "_service_token",
    }
)


class IdentityFixed(AttributeError):
    """A handler tried to reassign an identity attribute of its ctx."""


class UnavailableSurface:
    """Stands in for a surface whose app is not installed; every use raises RuntimeError."""

    def __init__(self, name, reason):
        self._name = name
        self._reason = reason

    def __getattr__(self, attr):
        raise RuntimeError(f"ctx.{self._name} is not available: {self._reason}")

    def __repr__(self):
        return f"<ctx.{self._name} unavailable>"


@dataclass(eq=False)
class PlatformContext(Context):
    """imperal-sdk's Context, wired to this platform's store, cache, db, notify and http.

    Built by :func:`build_context`; never construct it by hand outside tests.
    """

    db: Any = None
    _partition: Partition = None
    _actor: str = Actor.USER
    _cache_face: Any = None
    # Shared by a system context and every context it scopes with as_user(),
    # so a schedule run can report (and record) the users it fanned out to.
    _fanout: FanOut = field(default_factory=FanOut)
    _clock: Any = None
    _progress_callback: Any = None

    def __post_init__(self):
        super().__post_init__()
        # The SDK builds an HTTP CacheClient here when it can find a gateway
        # URL; this platform's cache is in-process, so take it over.
        self._cache = self._cache_face

    @property
    def cache(self):
        """The per-user TTL cache; RuntimeError when built without a cache backend."""
        if self._cache is None:
            raise RuntimeError(
                "ctx.cache is not available in this context: it was built without a "
                "cache backend (I-CACHE-GW-URL-DERIVE). Build contexts with "
                "apps.extensions.context.build_context()."
            )
        return self._cache

    def __setattr__(self, name, value):
        if name in IDENTITY_ATTRIBUTES and self.__dict__.get("_sealed"):
            record_threat("context_identity_reassign", self._partition, attribute=name)
            raise IdentityFixed(
                f"ctx.{name} is fixed when the context is built and cannot be "
                "reassigned; a system context reaches a user with ctx.as_user(uid)"
            )
        super().__setattr__(name, value)

    # --- imperal-sdk surfaces this platform does not serve (see unserved.py) ---

    users = UnservedProperty()
    apps = UnservedProperty()
    rbac = UnservedProperty()
    conversations = UnservedProperty()
    signals = UnservedProperty()

    def _gw_namespace(self, name, cls):
        # The SDK would build an HTTP client for Imperal Cloud's gateway here.
        return UnservedSurface(name)

    async def deliver_chat_message(self, text, **kwargs):
        raise SurfaceNotServed("deliver_chat_message()")

    async def background_task(self, coro, **kwargs):
        coro.close()  # never awaited: close it so Python does not warn
        raise SurfaceNotServed("background_task()")

    async def oauth_authorize_url(self, provider, **kwargs):
        raise SurfaceNotServed("oauth_authorize_url()")

    def webhook_url(self, path):
        """Return this platform's public URL of the extension's webhook ``path``.

        Built on IMPERAL_WEBHOOK_HOST when set, else on PUBLIC_URL (imperal-sdk
        would name Imperal Cloud's host); a leading slash of ``path`` is
        dropped, as the SDK does.
        """
        base = webhook_base_url()
        clean = (path or "").lstrip("/")
        return f"{base}/v1/ext/{self._extension_id}/webhook/{clean}"

    @property
    def extension_id(self):
        """The extension's app id (imperal-sdk's built-in secrets panel reads it)."""
        return self._extension_id

    ext_id = extension_id

    @property
    def _declared_secrets(self):
        """The extension's ``@ext.secret`` declarations by name (the secrets panel
        lists them)."""
        return self._extension.secrets

    async def progress(self, percent, message=""):
        """Report progress to the run's progress callback; return None.

        The message is bounded first (:func:`progress_report`), whatever the
        callback does with it. Raises TypeError when ``percent`` is not a number.
        """
        percent, message = progress_report(percent, message)
        if self._progress_callback is not None:
            await self._progress_callback(percent, message)

    def _seal(self):
        """Fix the context's identity: later reassignments raise IdentityFixed."""
        object.__setattr__(self, "_sealed", True)

    @property
    def is_system(self):
        """Whether this is the system context, as fixed by its partition."""
        return self._partition.is_system

    @property
    def is_privileged(self):
        """Whether this context may address users (system or webhook context)."""
        return self._partition.user_id in PRIVILEGED_IDS

    @property
    def _fanned_out_users(self):
        """The user ids this context (and its as_user scopes) acted for."""
        return self._fanout.users

    @property
    def _fanned_out_count(self):
        """How many users this context (and its as_user scopes) acted for so far.

        Safe to read from another thread while the handler runs.
        """
        return self._fanout.count

    @property
    def _fan_out_shard(self):
        """The shard (apps.store.shards.Shard) list_users is limited to, or None."""
        return self._fanout.shard

    def as_user(self, user_id):
        """Return a context for ``user_id``: same extension, tenant and agency.

        Raises RuntimeError outside a privileged (system or webhook) context,
        recording a security event; ValueError (apps.accounts.ids.InvalidUserId)
        for a user id that breaks the user-id rule or is privileged.
        """
        require_system(
            self._partition,
            "ctx.as_user()",
            "as_user_from_user_context",
            target=user_id,
        )
        check_user_id(user_id, "ctx.as_user()")
        if user_id in PRIVILEGED_IDS:
            raise InvalidUserId(
                f"ctx.as_user(): {user_id!r} is a platform identity, not a user "
                f"(reserved: {sorted(PRIVILEGED_IDS)})"
            )
        self._fanout.scoped(user_id)
        return _scoped_context(self, user_id)

    def _surface_for_user(self, surface, user_id):
        """Return ``user_id``'s ctx.<surface> (imperal-sdk's ``for_user``).

        Only the system context may address another user: any other caller
        gets RuntimeError and a security event, as with ``as_user``.
        """
        require_system(
            self._partition,
            f"ctx.{surface}.for_user()",
            f"{surface}_for_user_from_user_context",
            target=user_id,
        )
        return getattr(self.as_user(user_id), surface)

    async def _fan_out(self, user_ids, last=False):
        """Yield a ScopedUserId for each id of a ``list_users`` page still to be
        delivered, telling the FanOut when each user's iteration is done
        (``last``: this is the listing's last page)."""
        fanout = self._fanout
        for user_id in await fanout.pending(
            reachable_user_ids(user_ids, self._extension_id)
        ):
            fanout.entered(user_id)
            yield ScopedUserId(user_id, self)
            await fanout.finished(user_id)
        if last:
            await fanout.exhausted()


def reachable_user_ids(user_ids, app_id):
    """Return ``user_ids`` without those that break the user-id rule, logged.

    Such ids can only come from data stored before the rule; ``as_user`` would
    refuse them, so a fan-out passes them by instead of failing every user
    after them. An operator opens, exports or erases their partitions in the
    console.
    """
    reachable = [u for u in user_ids if is_valid_user_id(u)]
    if len(reachable) < len(user_ids):
        skipped = [u for u in user_ids if not is_valid_user_id(u)]
        logger.warning(
            "list_users in %s: %d stored user id(s) break the user-id rule and "
            "are passed by (first: %s); see the console's partition browser",
            app_id,
            len(skipped),
            clipped(skipped[0]),
        )
    return reachable


class RecipientlessNotify:
    """A webhook context's ctx.notify: it names no user, so only ``for_user`` works."""

    def __init__(self, face):
        self._face = face

    async def __call__(self, message, **kwargs):
        """Raise ValueError: a webhook has no recipient of its own."""
        raise ValueError(
            "notify: the webhook context has no recipient; address a user with "
            "ctx.notify.for_user(uid)(...) or ctx.as_user(uid).notify(...)"
        )

    async def send(self, message, channel="in_app", **kwargs):
        await self(message, channel=channel, **kwargs)

    def for_user(self, user_id):
        """Return ``user_id``'s notify."""
        return self._face.for_user(user_id)

    def __repr__(self):
        return f"<ctx.notify of a webhook: {self._face!r}>"


class ScopedUserId(str):
    """A user id yielded by ``list_users`` that is also that user's scoped context.

    Serves both loops verbatim: the seed's ``async for user_ctx in
    ctx.store.list_users(c): await user_ctx.store.query(...)`` and imperal-sdk's
    ``async for uid in ...: ctx.as_user(uid)``. The context is built on first
    attribute use only.
    """

    def __new__(cls, user_id, system_context):
        instance = super().__new__(cls, user_id)
        instance._system_context = system_context
        instance._scoped = None
        return instance

    @property
    def context(self):
        if self._scoped is None:
            self._scoped = self._system_context.as_user(str(self))
        return self._scoped

    def __getattr__(self, name):
        if name.startswith("__") or name in ("_system_context", "_scoped"):
            raise AttributeError(name)
        return getattr(self.context, name)


def build_context(
    ext,
    user,
    *,
    tool_type="tool",
    actor=None,
    clock=None,
    fanout=None,
    progress=None,
    metadata=None,
):
    """Return the PlatformContext for running ``ext``'s handlers as ``user``.

    ``user`` is a PlatformUserContext (see apps.accounts.identity); ``clock``
    returns an aware UTC datetime (default: now); ``progress`` is an async
    callable(percent, message) that receives ``ctx.progress`` reports, the
    message bounded (:func:`progress_report`). Raises InvalidUserId (a
    ValueError) when the user's id breaks the user-id rule.
    """
    clock = clock or _utc_now
    partition = Partition(user.tenant_id, ext.app_id, user.imperal_id)
    if partition.user_id not in PRIVILEGED_IDS:
        check_user_id(partition.user_id, "the context's user")
    if actor is None:
        actor = OWN_ACTORS.get(partition.user_id, Actor.USER)
    ctx = PlatformContext(
        user=user,
        tenant=tenant_context(user.tenant_id),
        config=ConfigClient(_resolved_config(ext)),
        time=time_context(clock()),
        agency_id=user.agency_id,
        _extension_id=ext.app_id,
        _extension=ext,
        _metadata=dict(metadata or {}),
        _tool_type=tool_type,
        _partition=partition,
        _actor=actor,
        _fanout=fanout if fanout is not None else FanOut(),
        _clock=clock,
        _progress_callback=progress or log_progress,
        skeleton=_skeleton_reader(ext, partition, clock),
        **{name: UnservedSurface(name) for name in UNSERVED_FIELDS},
    )
    ctx.notify = _surface("notify", ctx)
    if partition.user_id == WEBHOOK_ID:
        ctx.notify = RecipientlessNotify(ctx.notify)
    ctx.store = _surface("store", ctx)
    ctx.db = _surface("db", ctx)
    ctx.http = _surface("http", ctx)
    ctx.secrets = _surface("secrets", ctx)
    ctx.storage = _surface("storage", ctx)
    ctx.ai = _surface("ai", ctx)
    ctx._cache = _cache_surface(ctx)
    ctx._seal()
    return ctx


def _scoped_context(system, user_id):
    """Return the context ``system.as_user(user_id)`` returns, cheaply.

    What is the same for every user of a fire (config, time, tenant, the
    extension, the unserved surfaces, the FanOut) is shared with ``system``;
    only the identity, the skeleton reader and the surfaces are built anew.
    The result is what build_context() would build for that user.
    """
    scoped = object.__new__(PlatformContext)
    state = scoped.__dict__
    state.update(system.__dict__)
    partition = system._partition.for_user(user_id)
    raw_skeleton = _skeleton_reader(system._extension, partition, system._clock)
    state.update(
        user=system.user.model_copy(
            update={
                "imperal_id": user_id,
                "attributes": {
                    **system.user.attributes,
                    "scoped_from": system._partition.user_id,
                },
            }
        ),
        _partition=partition,
        _actor=SCOPED_ACTORS[system._partition.user_id],
        _metadata=dict(system._metadata),
        _raw_skeleton=raw_skeleton,
        skeleton=_SkeletonAccessGuard(raw_skeleton, system._tool_type),
        _gw_namespaces={},
        _signals=None,
    )
    state["notify"] = _surface("notify", scoped)
    state["store"] = _surface("store", scoped)
    state["db"] = _surface("db", scoped)
    state["http"] = _surface("http", scoped)
    state["secrets"] = _surface("secrets", scoped)
    state["storage"] = _surface("storage", scoped)
    state["ai"] = _surface("ai", scoped)
    state["_cache"] = _cache_surface(scoped)
    return scoped


def serve_skeleton(reader):
    """Make ``reader(ext, partition, clock)`` build the client behind ctx.skeleton.

    Reading a stale section refreshes it, which runs a handler in a context of
    its own: the skeleton module builds contexts, so it sits above this one and
    hands its reader over when the app is ready (ExtensionsConfig.ready).
    """
    global _skeleton_reader_class
    _skeleton_reader_class = reader


_skeleton_reader_class = None


def _skeleton_reader(ext, partition, clock):
    if _skeleton_reader_class is None:
        return UnavailableSurface("skeleton", "apps.extensions is not ready")
    return _skeleton_reader_class(ext, partition, clock)


def _surface(name, ctx):
    """Return ctx.<name> as its factory builds it; a factory answering None (its
    surface is not configured here) gets the loud UnservedSurface."""
    factory = _factory(name, SURFACE_FACTORIES[name])
    if isinstance(factory, UnavailableSurface):
        return factory
    face = factory(ctx)
    return UnservedSurface(name) if face is None else face


def _cache_surface(ctx):
    """Return the cache face behind ctx.cache, or None when no cache backend is
    configured (ctx.cache then raises its RuntimeError, I-CACHE-GW-URL-DERIVE)."""
    factory = _factory("cache", SURFACE_FACTORIES["cache"])
    if isinstance(factory, UnavailableSurface):
        return None
    return factory(ctx)


@functools.cache
def _factory(name, dotted_path):
    """Return the factory at ``dotted_path``, or an UnavailableSurface ``name``."""
    module_path, _, factory_name = dotted_path.rpartition(".")
    try:
        module = importlib.import_module(module_path)
    except ModuleNotFoundError as exc:
        if exc.name is None or not module_path.startswith(exc.name):
            raise
        return UnavailableSurface(name, f"{module_path} is not installed")
    return getattr(module, factory_name)


def _resolved_config(ext):
    resolved = {**(ext.config_defaults or {})}
    for key, value in settings.IMPERAL_EXTENSION_CONFIG.get(ext.app_id, {}).items():
        if isinstance(value, dict) and isinstance(resolved.get(key), dict):
            resolved[key] = {**resolved[key], **value}
        else:
            resolved[key] = value
    return resolved


def _utc_now():
    return datetime.datetime.now(datetime.UTC)


def progress_report(percent, message=""):
    """Return ``(percent, message)`` of a ``ctx.progress`` report, bounded.

    The message becomes a string of at most PROGRESS_MESSAGE_MAX_CHARS
    characters (a longer one is clipped, with a marker saying how long it
    was), control characters escaped: it is logged and stored as one line.
    Raises TypeError when ``percent`` is not a number.
    """
    if isinstance(percent, bool) or not isinstance(percent, numbers.Real):
        raise TypeError(f"ctx.progress: percent must be a number, got {percent!r:.40}")
    return percent, clip_message(message, PROGRESS_MESSAGE_MAX_CHARS)


def clip_message(message, limit):
    """Return ``str(message)`` on one line, at most ``limit`` characters long."""
    text = _CONTROL.sub(_escaped, str(message))
    if len(text) <= limit:
        return text
    marker = f"…({len(text)} chars)"
    return text[: max(0, limit - len(marker))] + marker


def _escaped(match):
    return match.group().encode("unicode_escape").decode("ascii")


async def log_progress(percent, message=""):
    """Log a ``ctx.progress`` report (the default progress callback); return None.

    The message is bounded as :func:`progress_report` says. Raises TypeError
    when ``percent`` is not a number.
    """
    percent, message = progress_report(percent, message)
    logger.info("progress %.0f%% %s", percent, message)
