"""Load a surface's backend: a module named by dotted path in the surface's settings dict.

Every backend module of a surface exports the same class name (``StoreBackend``,
``CacheBackend``, ``DatabaseBackend``), the way Django's session engines all
export ``SessionStore``; the contract is the surface's ``backends/base.py``.
"""

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string


def backend_class(setting, dotted, class_name):
    """Return class ``class_name`` of module ``dotted``.

    ``setting`` names where the path came from (``"IMPERAL_CACHE['BACKEND']"``)
    in the ImproperlyConfigured raised when the module or class is missing.
    """
    if not isinstance(dotted, str) or not dotted:
        raise ImproperlyConfigured(
            f"{setting} must be the dotted path of a backend module, got {dotted!r}"
        )
    try:
        return import_string(f"{dotted}.{class_name}")
    except ImportError as exc:
        raise ImproperlyConfigured(
            f"{setting} = {dotted!r} is not a module exporting {class_name}: {exc}"
        ) from exc


def keyed_backend_class(setting, modules, key, class_name, chosen_by=""):
    """Return class ``class_name`` of the module ``modules[key]``.

    ``modules`` is the settings dict ``setting`` names
    (``"IMPERAL_STORE['BACKENDS']"``), one module per ``key``; ``chosen_by``
    says what chose ``key`` (``"LLM_PROVIDER"``). Raises ImproperlyConfigured
    naming them when ``modules`` has no ``key`` or its module or class is missing.
    """
    if key not in modules:
        raise ImproperlyConfigured(
            f"{setting} has no backend module for {key!r}"
            f"{f' ({chosen_by})' if chosen_by else ''}; it has {sorted(modules)}"
        )
    return backend_class(f"{setting}[{key!r}]", modules[key], class_name)
