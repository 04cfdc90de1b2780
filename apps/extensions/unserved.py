"""The parts of imperal-sdk's contract this platform does not serve, failing loudly.

A ``ctx`` surface that belongs to Imperal Cloud (an LLM, billing, …) is an
:class:`UnservedSurface`: any use raises
:class:`SurfaceNotServed` naming it, never ``AttributeError`` on ``None``, a
silent success, or an HTTP client aimed at Imperal Cloud. Declared features
without a counterpart here are listed by :func:`unserved_features` (``ext list``
and the admin show them).
"""

from apps.ai.errors import SETTINGS_HINT as AI_SETTINGS_HINT

from .errors import InvocationError

SERVED = (
    "ctx.store, ctx.cache, ctx.db, ctx.notify, ctx.http, ctx.secrets, ctx.storage, "
    "ctx.ai (when a model provider is configured), ctx.config, ctx.skeleton, ctx.time"
)

# ctx attribute -> why this platform has no such surface.
SURFACES = {
    "ai": f"no model provider is configured; an operator must {AI_SETTINGS_HINT}",
    "billing": "plans, usage metering and payments are Imperal Cloud's",
    "extensions": "there are no inter-extension calls or events",
    "users": "platform user records are Imperal Cloud's",
    "apps": "app settings, membership and moderation are Imperal Cloud's",
    "rbac": "roles and scopes are Imperal Cloud's (ctx.user.scopes holds the "
    "user's scopes here)",
    "conversations": "there are no conversation threads",
    "signals": "there are no reactive state signals",
    "deliver_chat_message()": "there is no chat; notify the user with ctx.notify",
    "background_task()": "there is no chat to deliver a background result into",
    "oauth_authorize_url()": "there is no unified OAuth flow (no route exchanges "
    "the provider's code)",
}

FILE_SINKS_REASON = (
    "files are not pushed to extensions (an extension stores its own with ctx.storage)"
)

# Tools imperal-sdk registers for things its desktop shell calls, by name prefix.
SHELL_PREFIXES = {
    "__tray__": "tray item",
    "__menu__": "menu item",
    "__widget__": "widget",
}
SHELL_REASON = "it is rendered by Imperal's desktop shell, which this platform has not"


class SurfaceNotServed(RuntimeError):
    """A handler used a ctx surface this platform does not serve; ``surface``
    names it and ``reason`` says why it has no counterpart here."""

    def __init__(self, name):
        self.surface = name
        self.reason = SURFACES[name]
        super().__init__(
            f"ctx.{name} is not served by this platform: {self.reason}. "
            f"Served: {SERVED}."
        )


class FeatureNotServed(InvocationError):
    """A call named a declared feature this platform does not serve; nothing ran."""

    code = "not_found"

    def __init__(self, app_id, kind, name):
        super().__init__(
            f"extension {app_id!r}: {kind} {name!r} is not served by this platform "
            f"({SHELL_REASON})"
        )
        self.app_id = app_id


class UnservedSurface:
    """Stands in for a ctx surface this platform does not serve.

    Falsy, so an extension's own ``if ctx.ai:`` fallback still works; any
    attribute or call raises SurfaceNotServed.
    """

    __slots__ = ("_name",)

    def __init__(self, name):
        object.__setattr__(self, "_name", name)

    def __getattr__(self, attr):
        if attr.startswith("_"):
            # Probes of private and special names (dir(), inspect, copy,
            # pickle) get the usual answer.
            raise AttributeError(attr)
        raise SurfaceNotServed(self._name)

    def __setattr__(self, attr, value):
        raise SurfaceNotServed(self._name)

    def __call__(self, *args, **kwargs):
        raise SurfaceNotServed(self._name)

    def __bool__(self):
        return False

    def __repr__(self):
        return f"<ctx.{self._name}: not served>"


class UnservedProperty:
    """A read-only ctx attribute whose value is ``UnservedSurface(<its name>)``."""

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, ctx, owner=None):
        return self if ctx is None else UnservedSurface(self.name)

    def __set__(self, ctx, value):
        raise AttributeError(f"ctx.{self.name} is not served and cannot be set")


def shell_feature(tool_name):
    """Return the kind ("tray item", …) of a shell-rendered tool name, or None."""
    for prefix, kind in SHELL_PREFIXES.items():
        if tool_name.startswith(prefix):
            return kind
    return None


def unserved_features(ext):
    """Return [{feature, names, reason}] for each declared feature not served."""
    declared = {
        "signal handlers (@ext.signal)": (list(ext.signals), SURFACES["signals"]),
        "event handlers (@ext.on_event)": (
            [h.event_type for h in ext.event_handlers],
            SURFACES["extensions"],
        ),
        "emitted events (@ext.emits)": (
            [e.event_type for e in ext.declared_emits],
            SURFACES["extensions"],
        ),
        "exposed methods (@ext.expose)": (list(ext.exposed), SURFACES["extensions"]),
        "search providers (@ext.search_provider)": (
            list(getattr(ext, "_search_providers", {})),
            "there is no omnisearch",
        ),
        "tray items (@ext.tray)": (list(ext.tray_items), SHELL_REASON),
        "menu items (@ext.menu_item)": (list(ext.menu_items), SHELL_REASON),
        "widgets (@ext.widget)": (_widgets(ext), SHELL_REASON),
        "OAuth providers (@ext.oauth)": (
            list(ext.oauth_providers),
            SURFACES["oauth_authorize_url()"],
        ),
        "file sinks (@ext.file_sink)": (
            list(getattr(ext, "_file_sinks", {})),
            FILE_SINKS_REASON,
        ),
    }
    return [
        {"feature": feature, "names": sorted(names), "reason": reason}
        for feature, (names, reason) in declared.items()
        if names
    ]


def _widgets(ext):
    prefix = "__widget__"
    return [name[len(prefix) :] for name in ext.tools if name.startswith(prefix)]
