"""Where each extension runs, and its workers' environment: the settings' rules.

Pure functions (no Django import): settings.py validates the environment with
them at startup and apps.runtime reads the live settings through them, so an
override in a test is held to the same rules.
"""

import json
import re

IN_PROCESS = "in-process"
ISOLATED = "isolated"
RUNTIMES = (IN_PROCESS, ISOLATED)
# A worker's environment variable: what a POSIX shell accepts as a name.
ENV_NAME_RULE = "letters, digits and '_', not starting with a digit"
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Names the runtime sets itself in every worker.
RESERVED_ENV_PREFIX = "IMPERAL_WORKER_"


class RuntimeSettingError(ValueError):
    """A runtime setting breaks its rule; the message names the setting and key."""


def parse_json_object(name, text):
    """Return the JSON object in ``text`` ({} when blank); raise RuntimeSettingError."""
    text = (text or "").strip()
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise RuntimeSettingError(f"{name} is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise RuntimeSettingError(f"{name} must be a JSON object keyed by app id")
    return value


def check_runtime_choice(name, value):
    """Return ``value`` when it names a runtime; raise RuntimeSettingError."""
    if value not in RUNTIMES:
        raise RuntimeSettingError(
            f"{name} must be one of {list(RUNTIMES)}, got {str(value)[:40]!r}"
        )
    return value


def check_runtime_map(name, mapping):
    """Return ``mapping`` (app id -> runtime) when every value names a runtime."""
    if not isinstance(mapping, dict):
        raise RuntimeSettingError(f"{name} must be a mapping of app id -> runtime")
    for app_id, runtime in mapping.items():
        check_runtime_choice(f"{name}[{app_id!r}]", runtime)
    return mapping


def check_env_map(name, mapping):
    """Return ``mapping`` (app id -> {VAR: value}) when every variable is well formed.

    Names follow ENV_NAME_RULE and may not start with RESERVED_ENV_PREFIX;
    values are strings without NUL characters.
    """
    if not isinstance(mapping, dict):
        raise RuntimeSettingError(f"{name} must be a mapping of app id -> variables")
    for app_id, variables in mapping.items():
        where = f"{name}[{app_id!r}]"
        if not isinstance(variables, dict):
            raise RuntimeSettingError(
                f"{where} must be an object of variables, got {type(variables).__name__}"
            )
        for var, value in variables.items():
            _check_variable(where, var, value)
    return mapping


def _check_variable(where, var, value):
    if not isinstance(var, str) or not _ENV_NAME.match(var):
        raise RuntimeSettingError(
            f"{where}: variable name {str(var)[:40]!r} breaks the rule ({ENV_NAME_RULE})"
        )
    if var.startswith(RESERVED_ENV_PREFIX):
        raise RuntimeSettingError(
            f"{where}: {var!r} is reserved (names starting {RESERVED_ENV_PREFIX!r} "
            "are set by the runtime)"
        )
    if not isinstance(value, str) or "\x00" in value:
        raise RuntimeSettingError(
            f"{where}[{var!r}] must be a string without NUL characters, "
            f"got {type(value).__name__}"
        )
