"""The Harness a test gets as ``imperal``: real contexts, calls and fires on the test database.

Nothing here re-implements a rule: contexts come from the kernel's
``build_context``, calls from ``prepare_tool`` / ``prepare_panel`` (the path of
``manage.py ext call`` and the REST API), fires from the scheduler's
``fire_schedule`` (the path of Celery beat), so every invariant the platform
enforces is enforced in the test too.
"""

from pathlib import Path

from asgiref.sync import async_to_sync, sync_to_async

from apps.accounts.identity import system_user_context, user_context
from apps.accounts.models import User
from apps.accounts.partition import Partition
from apps.db.migrator import migrate_extension
from apps.extensions.context import build_context
from apps.extensions.errors import HandlerFailed, InvalidParams, SecretMissing
from apps.extensions.invocation import prepare_panel, prepare_tool
from apps.extensions.registry import get_registry, reset_registry, secret_specs
from apps.extensions.scopes import with_capabilities
from apps.extensions.skeleton import read_section
from apps.extensions.sync import sync_extensions
from apps.notifications.models import Notification
from apps.scheduler.fire import fire_schedule, manual_slot
from apps.secrets.core import Actor, Vault, declared
from apps.secrets.models import Scope, SecretAccess

__all__ = ["ExtensionLoadFailed", "Harness", "InvalidParams", "SecretMissing"]


class ExtensionLoadFailed(RuntimeError):
    """An entry given to :meth:`Harness.load` did not load; the message says why."""


class Harness:
    """One test's view of the platform: load extensions, build contexts, call, fire."""

    def __init__(self, settings, clock, cache_clock, tenant_id="default"):
        self._settings = settings
        self.clock = clock
        self._cache_clock = cache_clock
        self.tenant_id = tenant_id
        self._default_app = None

    # ---- extensions ---------------------------------------------------------

    def load(self, *entries):
        """Make ``entries`` (directories, module paths) this test's extensions.

        Mirrors them into the database as ``sync_extensions`` does and applies
        each one's ctx.db migrations. Returns the first LoadedExtension.
        Raises ExtensionLoadFailed naming the entry when any entry is broken.
        """
        if not entries:
            raise ValueError("load: name at least one extension entry")
        self._settings.IMPERAL_EXTENSIONS = [
            str(Path(e).resolve()) if isinstance(e, Path) else e for e in entries
        ]
        reset_registry()
        registry = get_registry()
        if registry.errors:
            raise ExtensionLoadFailed("; ".join(str(e) for e in registry.errors))
        sync_extensions(registry)
        for loaded in registry:
            migrate_extension(loaded)
        first = next(iter(registry))
        self._default_app = first.app_id
        return first

    def extension(self, app=None):
        """Return the LoadedExtension ``app`` (default: the first one loaded).

        Raises LookupError when nothing, or not ``app``, was loaded.
        """
        app = app or self._default_app
        loaded = get_registry().get(app) if app else None
        if loaded is None:
            raise LookupError(f"extension {app!r} is not loaded: call imperal.load()")
        return loaded

    # ---- identities and contexts -----------------------------------------------

    def user(self, imperal_id, **fields):
        """Return the platform User ``imperal_id``, created in this tenant if new."""
        defaults = {
            "username": imperal_id,
            "email": f"{imperal_id}@example.com",
            "tenant_id": self.tenant_id,
            **fields,
        }
        user, _ = User.objects.get_or_create(imperal_id=imperal_id, defaults=defaults)
        return user

    def ctx(self, user="alice", *, app=None):
        """Return the real ctx a tool of ``app`` gets when ``user`` calls it."""
        loaded = self.extension(app)
        identity = with_capabilities(user_context(self.user(user)), loaded.ext)
        return build_context(loaded.ext, identity, clock=self.clock.now)

    async def actx(self, user="alice", *, app=None):
        """Async :meth:`ctx`, for ``async def`` tests (the user row is made off-loop)."""
        return await sync_to_async(self.ctx)(user, app=app)

    def system_ctx(self, *, app=None):
        """Return the system context a schedule of ``app`` runs in (``as_user`` works)."""
        loaded = self.extension(app)
        return build_context(
            loaded.ext,
            system_user_context(self.tenant_id),
            tool_type="schedule",
            clock=self.clock.now,
        )

    # ---- calls, as the platform makes them --------------------------------------

    def call(self, name, params=None, *, user="alice", app=None):
        """Call tool or chat function ``name`` as ``user``; return its JSON result.

        Params are validated against the handler's signature first
        (InvalidParams, nothing ran). An exception the handler raised is
        raised as is (the platform would answer 500 handler_failed).
        """
        return async_to_sync(self.acall)(name, params, user=user, app=app)

    async def acall(self, name, params=None, *, user="alice", app=None):
        """Async :meth:`call`, for ``async def`` tests."""
        prepare = sync_to_async(self._prepare_tool)
        return await _run(await prepare(name, params, user, app))

    def panel(self, panel_id, params=None, *, user="alice", app=None):
        """Render panel ``panel_id`` as ``user``; return its JSON result."""
        return async_to_sync(self.apanel)(panel_id, params, user=user, app=app)

    async def apanel(self, panel_id, params=None, *, user="alice", app=None):
        """Async :meth:`panel`."""
        prepare = sync_to_async(self._prepare_panel)
        return await _run(await prepare(panel_id, params, user, app))

    def fire(self, schedule, *, app=None, due_at=None):
        """Fire ``schedule`` through the scheduler; return its finished ScheduleRun.

        Without ``due_at`` it is an operator's "run now" (a slot of its own).
        With ``due_at`` it is beat's fire of the cron slot that time belongs
        to: a second fire of the same slot runs nothing and is recorded
        ``skipped-duplicate``.
        """
        loaded = self.extension(app)
        now = self.clock.now()
        if due_at is None:
            run = fire_schedule(
                loaded.app_id,
                schedule,
                slot=manual_slot(now),
                trigger="manual",
                now=now,
            )
        else:
            run = fire_schedule(loaded.app_id, schedule, due_at=due_at, now=now)
        run.refresh_from_db()
        return run

    async def afire(self, schedule, *, app=None, due_at=None):
        """Async :meth:`fire`."""
        return await sync_to_async(self.fire)(schedule, app=app, due_at=due_at)

    def skeleton(self, section, *, user="alice", app=None):
        """Return ``user``'s skeleton ``section`` as the platform serves it.

        A section whose TTL passed (see :meth:`advance`) is refreshed first,
        through ``skeleton_refresh_<section>`` and its alert; None when the
        extension declares no such section.
        """
        app_id = self.extension(app).app_id
        self.user(user)
        partition = Partition(self.tenant_id, app_id, user)
        return async_to_sync(read_section)(app_id, partition, section, self.clock.now)

    def run(self, awaitable):
        """Await ``awaitable`` from a sync test (``imperal.run(ctx.store.get(...))``)."""

        async def wait():
            return await awaitable

        return async_to_sync(wait)()

    # ---- secrets -------------------------------------------------------------------

    def set_secret(self, name, value, *, user="alice", app=None):
        """Set secret ``name`` as the platform lets its owner: a user's secret as
        ``user`` does with PUT /api/v1/me/secrets (write_mode "user" or "both"),
        an app secret (scope "app") as an operator does in the admin.

        Raises what the vault raises: SecretNotDeclaredError, SecretWriteForbidden
        (write_mode "extension": a tool of the extension sets it),
        SecretValueTooLarge.
        """
        app_id = self.extension(app).app_id
        spec = declared(secret_specs(app_id), app_id, name)
        if spec.scope == Scope.APP:
            actor = Actor(SecretAccess.Actor.OPERATOR, "test operator")
        else:
            self.user(user)
            actor = Actor(SecretAccess.Actor.USER, user)
        Vault().set(Partition(self.tenant_id, app_id, user), spec, value, actor)

    # ---- time and notifications --------------------------------------------------

    def advance(self, seconds):
        """Let ``seconds`` pass for ctx.time and ctx.cache entries; return the new time."""
        if self._cache_clock is None:  # built without a cache backend
            return self.clock.advance(seconds)
        self._cache_clock.advance(seconds)
        return self.clock.now()

    def notifications(self, user="alice", *, app=None):
        """Return the messages ``app`` notified ``user`` of, oldest first."""
        loaded = self.extension(app)
        rows = Notification.objects.filter(
            tenant_id=self.tenant_id, app_id=loaded.app_id, user_id=user
        ).order_by("created_at", "id")
        return list(rows.values_list("message", flat=True))

    def assert_notified(self, user, message, *, app=None):
        """Raise AssertionError unless ``user`` was notified exactly ``message``."""
        sent = self.notifications(user, app=app)
        if message not in sent:
            raise AssertionError(
                f"{user!r} was not notified {message!r}; notifications: {sent!r}"
            )

    # ---- helpers -------------------------------------------------------------------

    def _prepare_tool(self, name, params, user, app):
        self.user(user)
        app_id = self.extension(app).app_id
        return prepare_tool(app_id, name, user, params or {}, clock=self.clock.now)

    def _prepare_panel(self, panel_id, params, user, app):
        self.user(user)
        app_id = self.extension(app).app_id
        return prepare_panel(app_id, panel_id, user, params or {}, clock=self.clock.now)


async def _run(prepared):
    try:
        return await prepared.run()
    except HandlerFailed as exc:
        # Tests assert on what the handler raised, not on the kernel's wrapper.
        raise exc.exc from exc
