"""Load one extension's entry in a worker, as the kernel's registry does (no Django).

An entry is a module path (``extensions.contacts``), ``module:attr``, or a
directory holding ``main.py`` (imported with the directory first on sys.path).
"""

import importlib
import importlib.util
import sys
from pathlib import Path

from imperal_sdk import Extension
from imperal_sdk.secrets.panel_handler import builtin_secrets_panel_handler
from imperal_sdk.types.action_result import ActionResult

PANEL_PREFIX = "__panel__"


class EntryError(Exception):
    """The entry does not load, or defines no Extension with the expected app id."""


def load_extension(entry, app_id, base_dir="."):
    """Return the imperal-sdk Extension ``app_id`` defined by ``entry``."""
    module = _import_entry(entry, Path(base_dir))
    _, _, attr = (
        entry.partition(":") if ":" in entry and "/" not in entry else ("", "", "")
    )
    candidates = [getattr(module, attr)] if attr else list(vars(module).values())
    for value in candidates:
        if isinstance(value, Extension) and value.app_id == app_id:
            return value
    raise EntryError(f"entry {entry!r} defines no imperal_sdk.Extension {app_id!r}")


def _import_entry(entry, base_dir):
    path = Path(entry)
    if not path.is_absolute():
        path = base_dir / path
    if "/" in entry or path.is_dir():
        main = path / "main.py"
        if not main.is_file():
            raise EntryError(f"directory {str(path)!r} holds no main.py")
        sys.path.insert(0, str(path.resolve()))
        spec = importlib.util.spec_from_file_location("imperal_ext_main", main)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        return module
    if str(base_dir) not in sys.path:
        sys.path.insert(0, str(base_dir))
    return importlib.import_module(entry.partition(":")[0])


def find_handler(ext, kind, name):
    """Return (function to call, function whose signature binds the params).

    Raises LookupError when ``ext`` has no such handler.
    """
    if kind == "chat":
        for chat in getattr(ext, "_chat_extensions", {}).values():
            if name in chat.functions:
                func = chat.functions[name].func
                return func, func
    elif kind == "panel":
        tool = ext.tools.get(PANEL_PREFIX + name)
        if tool is not None:
            return tool.func, _wrapped(tool.func)
    elif kind == "hook":
        hook = ext.lifecycle.get(name)
        if hook is not None:
            return hook.func, hook.func
    elif kind == "schedule":
        schedule = ext.schedules.get(name)
        if schedule is not None:
            return schedule.func, schedule.func
    elif kind == "health":
        check = getattr(ext, "_health_check", None)
        if check is not None:
            return check.func, check.func
    elif kind == "webhook":
        webhook = ext.webhooks.get(name)
        if webhook is not None:
            return webhook.func, _accepting_all(webhook.func)
    elif kind in ("tool", "skeleton"):
        tool = ext.tools.get(name)
        if tool is not None:
            return tool.func, tool.func
    raise LookupError(f"extension {ext.app_id!r} has no {kind} {name!r}")


def _wrapped(wrapper):
    """Return the function imperal-sdk's ``@ext.panel`` wrapped (for its signature)."""
    closure = dict(
        zip(wrapper.__code__.co_freevars, wrapper.__closure__ or (), strict=True)
    )
    cell = closure.get("func")
    function = cell.cell_contents if cell is not None else wrapper
    if function is builtin_secrets_panel_handler:
        raise LookupError("the secrets panel is rendered by the platform")
    return function


def _accepting_all(func):
    """A webhook's kwargs were chosen by the kernel (accepted_kwargs): pass them as
    they are rather than binding them to the signature."""

    def bind_all(ctx, **kwargs):
        return None

    return bind_all


def skeleton_answer(name, result):
    """Return a skeleton refresh's answer as the kernel reads it.

    imperal-sdk extensions return ``ActionResult.success(data=...)``: its data
    is the section's ``response``; an ActionResult of another status raises
    RuntimeError with its error. Anything else (an alert's result, or the
    plain ``{"response": ...}`` contract) is returned as it is.
    """
    if not name.startswith("skeleton_refresh_") or not isinstance(result, ActionResult):
        return result
    if result.status != "success":
        raise RuntimeError(
            f"{name} returned an ActionResult with status {result.status!r}: "
            f"{result.error or 'no error message'}"
        )
    return {"response": result.data}
