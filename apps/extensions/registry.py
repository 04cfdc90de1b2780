"""Load the extensions named by IMPERAL_EXTENSIONS into a registry.

An entry is a module path (``extensions.contacts``), ``module:attr``, or a
directory holding ``main.py`` (the layout of Imperal extension repositories).
A broken entry is recorded with a message naming it; the others still load.
An Extension whose app_id breaks imperal-sdk's pattern, or is taken by an
earlier entry, is refused the same way (the earlier one stays).
"""

import hashlib
import importlib
import importlib.util
import logging
import re
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from imperal_sdk import Extension
from imperal_sdk.manifest_schema import APP_ID_PATTERN
from imperal_sdk.secrets.panel_handler import builtin_secrets_panel_handler

from apps.common.telemetry import labels

from .errors import ExtensionNotFound, HandlerNotFound
from .secrets_panel import render_secrets_panel
from .unserved import FeatureNotServed, shell_feature

logger = logging.getLogger(__name__)


PANEL_PREFIX = "__panel__"  # imperal-sdk registers each @ext.panel as this tool
WEBHOOK_PREFIX = "__webhook__"
SKELETON_REFRESH_PREFIX = "skeleton_refresh_"
SKELETON_ALERT_PREFIX = "skeleton_alert_"
# Tools imperal-sdk registers for the platform to call, not for users: the
# prefixes its own manifest producer skips (imperal_sdk/ir/produce.py).
PLATFORM_PREFIXES = (
    PANEL_PREFIX,
    WEBHOOK_PREFIX,
    SKELETON_REFRESH_PREFIX,
    SKELETON_ALERT_PREFIX,
    "__tray__",
    "__menu__",
    "__widget__",
)


@dataclass
class Handler:
    """One callable of an extension: ``func`` is what runs, ``signature`` what its
    params are validated against (a panel's wrapper runs the panel function), and
    ``tool_type`` the context it runs in (imperal-sdk's ``ctx._tool_type``)."""

    name: str
    func: object
    signature: object
    definition: object
    tool_type: str = "tool"


@dataclass
class LoadedExtension:
    """One registered imperal-sdk Extension, the entry that defined it and its directory."""

    entry: str
    ext: Extension
    root: Path = None

    @property
    def app_id(self):
        return self.ext.app_id

    def tools(self):
        """Return {name: Handler} of the tools users call (not PLATFORM_PREFIXES')."""
        return {
            name: Handler(name, tool.func, tool.func, tool)
            for name, tool in self.ext.tools.items()
            if not name.startswith(PLATFORM_PREFIXES)
        }

    def skeleton_sections(self):
        """Return {section: SkeletonSpec} of the extension's ``@ext.skeleton``s."""
        sections = {}
        for name, tool in self.ext.tools.items():
            meta = getattr(tool, "_skeleton", None)
            if not name.startswith(SKELETON_REFRESH_PREFIX) or not meta:
                continue
            section = meta["section_name"]
            alert = self.ext.tools.get(SKELETON_ALERT_PREFIX + section)
            sections[section] = SkeletonSpec(
                section=section,
                ttl=meta["ttl"],
                refresh=Handler(name, tool.func, tool.func, tool, "skeleton"),
                alert=(
                    Handler(alert.name, alert.func, alert.func, alert, "skeleton")
                    if alert is not None and meta["alert_on_change"]
                    else None
                ),
            )
        return sections

    def chat_functions(self):
        """Return {name: Handler} of every ``@chat.function`` of the extension's
        ChatExtensions (typed dispatch: the params model is the signature's)."""
        functions = {}
        for chat in getattr(self.ext, "_chat_extensions", {}).values():
            for name, definition in chat.functions.items():
                functions[name] = Handler(
                    name, definition.func, definition.func, definition, "chat_fn"
                )
        return functions

    def callables(self):
        """Return {name: Handler} of what ``ext call`` reaches: tools and chat functions.

        A chat function named like a tool is shadowed by it (see clashes()).
        """
        return {**self.chat_functions(), **self.tools()}

    def clashes(self):
        """Return the names that are both a tool and a chat function."""
        return sorted(self.tools().keys() & self.chat_functions().keys())

    def panels(self):
        """Return {panel_id: Handler} of the extension's panels."""
        panels = {}
        for panel_id, meta in self.ext._panels.items():
            wrapper = self.ext.tools[PANEL_PREFIX + panel_id].func
            function = _wrapped(wrapper)
            if function is builtin_secrets_panel_handler:
                # imperal-sdk's own handler fails on some secrets (secrets_panel.py).
                wrapper = function = render_secrets_panel
            panels[panel_id] = Handler(panel_id, wrapper, function, meta, "panel")
        return panels

    def declares(self, kind, name):
        """Return whether the extension declares a ``kind`` ("tool": a tool users
        call or a chat function; "panel"; "schedule") named ``name``."""
        if kind == "tool":
            if name in self.ext.tools and not name.startswith(PLATFORM_PREFIXES):
                return True
            chats = getattr(self.ext, "_chat_extensions", {}).values()
            return any(name in chat.functions for chat in chats)
        if kind == "panel":
            return name in self.ext._panels
        if kind == "schedule":
            return name in self.ext.schedules
        return False

    def tool(self, name):
        """Return the Handler of tool or chat function ``name``.

        Raises FeatureNotServed for a tray, menu or widget tool, HandlerNotFound
        for any other name users do not call.
        """
        kind = shell_feature(name)
        if kind is not None and name in self.ext.tools:
            raise FeatureNotServed(self.app_id, kind, name)
        return self._find("tool", self.callables(), name)

    def panel(self, panel_id):
        """Return the Handler of panel ``panel_id``; HandlerNotFound if there is none."""
        return self._find("panel", self.panels(), panel_id)

    def schedule(self, name):
        """Return the SDK's schedule definition ``name``; HandlerNotFound if none."""
        return self._find("schedule", self.ext.schedules, name)

    def _find(self, kind, handlers, name):
        if name not in handlers:
            raise HandlerNotFound(self.app_id, kind, name, handlers)
        return handlers[name]


@dataclass
class SkeletonSpec:
    """One ``@ext.skeleton`` section: its TTL, refresh tool and (optional) alert tool.

    ``alert`` is set when the section asked for alerts (``alert=True``) and a
    ``skeleton_alert_<section>`` tool exists, as imperal-sdk's kernel pairs them.
    """

    section: str
    ttl: int
    refresh: Handler
    alert: Handler = None


def _wrapped(wrapper):
    """Return the function imperal-sdk's ``@ext.panel`` wrapped (for its signature)."""
    closure = dict(
        zip(wrapper.__code__.co_freevars, wrapper.__closure__ or (), strict=True)
    )
    cell = closure.get("func")
    return cell.cell_contents if cell is not None else wrapper


@dataclass
class LoadError:
    """An IMPERAL_EXTENSIONS entry that could not be loaded, and why."""

    entry: str
    message: str
    app_id: str = None

    def __str__(self):
        return f"extension entry {self.entry!r}: {self.message}"


@dataclass
class Registry:
    """The extensions of this deployment, keyed by app_id, plus the entries that failed."""

    extensions: dict = field(default_factory=dict)
    errors: list = field(default_factory=list)

    def get(self, app_id):
        """Return the LoadedExtension for ``app_id``, or None."""
        return self.extensions.get(app_id)

    def __iter__(self):
        return iter(self.extensions.values())

    def add(self, entry, ext, root=None):
        """Register ``ext`` from ``entry``, or record why it is refused.

        Refused, naming the entry: an app_id that does not match imperal-sdk's
        pattern, and an app_id an earlier entry already loaded (that one is
        kept: a later entry can never take an extension's data over).
        """
        labels.forget_known_names()
        app_id = ext.app_id
        existing = self.extensions.get(app_id)
        if existing is not None and existing.ext is ext:
            return
        refusal = _app_id_refusal(app_id, existing)
        if refusal is not None:
            self.errors.append(LoadError(entry, refusal, app_id=app_id))
            return
        loaded = self.extensions[app_id] = LoadedExtension(entry, ext, root)
        if loaded.clashes():
            self.errors.append(
                LoadError(
                    entry,
                    f"extension {app_id!r}: chat function(s) {loaded.clashes()} have "
                    "the name of a tool; calls reach the tool",
                )
            )


def _app_id_refusal(app_id, existing):
    """Return why an Extension with ``app_id`` may not load, or None."""
    if not isinstance(app_id, str) or not APP_ID_PATTERN.match(app_id):
        return (
            f"app_id {app_id!r:.140} does not match imperal-sdk's app_id pattern "
            f"{APP_ID_PATTERN.pattern} (2+ characters: lowercase letters, digits "
            "and '-', starting and ending with a letter or digit); not loaded"
        )
    if existing is not None:
        return (
            f"app_id {app_id!r} is already taken by entry {existing.entry!r}, "
            "which stays loaded; this entry's Extension is not loaded (rename it)"
        )
    return None


def load_registry(entries, base_dir=None):
    """Import every entry and return a Registry; never raises for a broken entry."""
    registry = Registry()
    base_dir = Path(base_dir or settings.BASE_DIR)
    for entry in entries:
        try:
            found, root = _extensions_of_entry(entry, base_dir)
        except Exception as exc:  # an extension's import may raise anything
            registry.errors.append(LoadError(entry, f"{type(exc).__name__}: {exc}"))
            continue
        if not found:
            registry.errors.append(
                LoadError(entry, "defines no imperal_sdk.Extension instance")
            )
        for ext in found:
            registry.add(entry, ext, root)
    for error in registry.errors:
        logger.error("%s", error)
    return registry


@lru_cache(maxsize=1)
def get_registry():
    """Return this process's registry, built once from settings.IMPERAL_EXTENSIONS."""
    return load_registry(settings.IMPERAL_EXTENSIONS)


def secret_specs(app_id):
    """Return the SecretSpecs loaded extension ``app_id`` declares, by name.

    Raises ExtensionNotFound when no such extension is loaded.
    """
    loaded = get_registry().get(app_id)
    if loaded is None:
        raise ExtensionNotFound(app_id)
    return loaded.ext.secrets


def reset_registry():
    """Forget the cached registry (tests, or after IMPERAL_EXTENSIONS changed)."""
    get_registry.cache_clear()
    labels.forget_known_names()


def _extensions_of_entry(entry, base_dir):
    """Return (the Extensions ``entry`` defines, the directory it lives in)."""
    directory = _as_extension_directory(entry, base_dir)
    if directory is not None:
        return _extensions_in(_import_directory(directory)), directory
    module_name, _, attr = entry.partition(":")
    module = importlib.import_module(module_name)
    root = Path(module.__file__).resolve().parent
    if not attr:
        return _extensions_in(module), root
    target = getattr(module, attr, None)
    if target is None:
        raise LookupError(f"module {module_name!r} has no attribute {attr!r}")
    if not isinstance(target, Extension):
        raise TypeError(
            f"{entry} is a {type(target).__name__}, not an imperal_sdk.Extension"
        )
    return [target], root


def _as_extension_directory(entry, base_dir):
    if ":" in entry and "/" not in entry:
        return None
    path = Path(entry)
    if not path.is_absolute():
        path = base_dir / path
    if path.is_dir():
        if not (path / "main.py").is_file():
            raise FileNotFoundError(f"directory {str(path)!r} holds no main.py")
        return path.resolve()
    if "/" in entry:
        raise FileNotFoundError(f"no such directory {str(path)!r}")
    return None


def _import_directory(directory):
    """Import ``directory/main.py`` with the directory's sibling modules importable.

    Extension repositories import their siblings by plain name (``from app
    import ext``); two repositories may both have an ``app.py``. Modules cached
    from other extension directories are set aside during this import so each
    directory gets its own, then put back.
    """
    digest = hashlib.sha1(str(directory).encode()).hexdigest()[:8]
    module_name = (
        f"imperal_ext_{re.sub(r'[^0-9A-Za-z_]', '_', directory.name)}_{digest}"
    )
    if module_name in sys.modules:
        return sys.modules[module_name]
    shadowed = {
        name: module
        for name, module in list(sys.modules.items())
        if _owning_extension_dir(module) not in (None, directory)
    }
    for name in shadowed:
        del sys.modules[name]
    sys.path.insert(0, str(directory))
    try:
        spec = importlib.util.spec_from_file_location(
            module_name, directory / "main.py"
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[module_name]
            raise
    finally:
        sys.path.remove(str(directory))
        # Kept importable (last on the path) for siblings a handler imports lazily.
        sys.path.append(str(directory))
        _EXTENSION_DIRS.add(directory)
        sys.modules.update(shadowed)
    return module


_EXTENSION_DIRS = set()


def _owning_extension_dir(module):
    path = getattr(module, "__file__", None)
    if not path:
        return None
    resolved = Path(path).resolve()
    for directory in _EXTENSION_DIRS:
        if resolved.is_relative_to(directory):
            return directory
    return None


def _extensions_in(module):
    seen = []
    for value in vars(module).values():
        if isinstance(value, Extension) and not any(value is s for s in seen):
            seen.append(value)
    return seen
