"""The sandbox's settings: IMPERAL_EXTENSION_ENV, IMPERAL_SANDBOX, and what follows
from them (each extension's variables, the OS limits, the workers' uids).

Read live from django.conf.settings, so an override in a test is held to the
same rules; a bad value raises ImproperlyConfigured naming the key.
"""

import hashlib
import json
import re
import resource
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

ENV_SETTING = "IMPERAL_EXTENSION_ENV"
SETTING = "IMPERAL_SANDBOX"
AUTO, STRICT, MINIMAL = "auto", "strict", "minimal"
MODES = (AUTO, STRICT, MINIMAL)
DEFAULTS = {
    "MODE": AUTO,
    "MEMORY_BYTES": 2 << 30,  # address space: a Python worker maps ~100 MB idle
    "CPU_SECONDS": 3600,  # a worker's lifetime CPU; per call, the deadline kills
    "OPEN_FILES": 256,
    "PROCESSES": 256,  # per extension user, threads included
    "UID_BASE": 1_000_000_000,  # far above login users and common subuid ranges
    "UID_SPAN": 1 << 24,
    "ROOT": "",
    "EGRESS_PROXY": "apps.egress.proxy",
}
# Past the CPU soft limit the kernel sends SIGXCPU; this many seconds later, SIGKILL.
CPU_GRACE_SECONDS = 2
MINIMAL_PATH = "/usr/local/bin:/usr/bin:/bin"
LANG = "C.UTF-8"
WORKER_PREFIX = "IMPERAL_WORKER_"
GATEWAY_VAR = "IMPERAL_WORKER_GATEWAY"
ENV_NAME_RULE = "letters, digits and '_', not starting with a digit"
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# What the sandbox itself sets; an operator's variable may not replace it.
PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")
NO_PROXY_VARS = ("NO_PROXY", "no_proxy")
RESERVED_VARS = frozenset(
    {"PATH", "HOME", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE", "ALL_PROXY", "all_proxy"}
    | set(PROXY_VARS)
    | set(NO_PROXY_VARS)
)
CONFINEMENTS = ("environment", "limits", "user", "files", "network")


class SandboxUnavailable(RuntimeError):
    """Strict mode, and a confinement this host cannot give: the worker is not started."""


@dataclass(frozen=True)
class Limits:
    """The OS limits of one worker (see DEFAULTS for what each bounds)."""

    memory_bytes: int
    cpu_seconds: int
    open_files: int
    processes: int

    def rlimits(self, own_user=True):
        """Return {resource: (soft, hard)}; RLIMIT_NPROC only for an own user
        (it counts every process of the uid: a shared uid would starve)."""
        limits = {
            resource.RLIMIT_AS: (self.memory_bytes, self.memory_bytes),
            resource.RLIMIT_CPU: (
                self.cpu_seconds,
                self.cpu_seconds + CPU_GRACE_SECONDS,
            ),
            resource.RLIMIT_NOFILE: (self.open_files, self.open_files),
            resource.RLIMIT_CORE: (0, 0),
        }
        if own_user:
            limits[resource.RLIMIT_NPROC] = (self.processes, self.processes)
        return limits


def sandbox_settings():
    """Return IMPERAL_SANDBOX over DEFAULTS; ImproperlyConfigured names a bad key."""
    merged = {**DEFAULTS, **getattr(settings, SETTING, {})}
    if merged["MODE"] not in MODES:
        raise ImproperlyConfigured(
            f"{SETTING}['MODE'] must be one of {list(MODES)}, got {merged['MODE']!r}"
        )
    for key in ("MEMORY_BYTES", "CPU_SECONDS", "OPEN_FILES", "PROCESSES"):
        _positive_int(merged, key)
    _positive_int(merged, "UID_SPAN")
    if not isinstance(merged["UID_BASE"], int) or not (
        1000 <= merged["UID_BASE"] <= 2**31 - 1 - merged["UID_SPAN"]
    ):
        raise ImproperlyConfigured(
            f"{SETTING}['UID_BASE'] must be an integer from 1000 up to 2**31 - 1 - "
            f"UID_SPAN, got {merged['UID_BASE']!r}"
        )
    return merged


def _positive_int(values, key):
    value = values[key]
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ImproperlyConfigured(
            f"{SETTING}[{key!r}] must be a positive integer, got {value!r}"
        )


def current_limits():
    """Return the Limits of the settings."""
    values = sandbox_settings()
    return Limits(
        values["MEMORY_BYTES"],
        values["CPU_SECONDS"],
        values["OPEN_FILES"],
        values["PROCESSES"],
    )


def parse_extension_env(value):
    """Return IMPERAL_EXTENSION_ENV (JSON text or dict) as {app id: {VAR: value}}.

    Raises ImproperlyConfigured naming the setting, the app id and the variable.
    """
    if isinstance(value, str):
        try:
            value = json.loads(value or "{}")
        except ValueError as exc:
            raise ImproperlyConfigured(f"{ENV_SETTING} is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ImproperlyConfigured(
            f"{ENV_SETTING} must be a JSON object of app id -> variables"
        )
    for app_id, variables in value.items():
        where = f"{ENV_SETTING}[{app_id!r}]"
        if not isinstance(variables, dict):
            raise ImproperlyConfigured(f"{where} must be an object of variables")
        for name, text in variables.items():
            _check_variable(where, name, text)
    return value


def _check_variable(where, name, text):
    if not isinstance(name, str) or not _ENV_NAME.fullmatch(name):
        raise ImproperlyConfigured(
            f"{where}: variable name {str(name)[:40]!r} breaks the rule ({ENV_NAME_RULE})"
        )
    if name.startswith(WORKER_PREFIX) or name in RESERVED_VARS:
        raise ImproperlyConfigured(
            f"{where}: {name!r} is set by the sandbox (reserved: {WORKER_PREFIX}*, "
            f"{', '.join(sorted(RESERVED_VARS))})"
        )
    if not isinstance(text, str) or "\x00" in text:
        raise ImproperlyConfigured(
            f"{where}[{name!r}] must be a string without NUL characters"
        )


def extension_env(app_id):
    """Return the operator's variables for ``app_id``'s workers ({} when none)."""
    return dict(parse_extension_env(getattr(settings, ENV_SETTING, {})).get(app_id, {}))


def worker_ids(app_id, values=None):
    """Return the (uid, gid) of ``app_id``'s workers: UID_BASE + hash % UID_SPAN.

    Derived, not allocated: no /etc/passwd entry to create or lose, the same
    on every host a deployment runs workers on, nothing to clean up.
    """
    values = values or sandbox_settings()
    digest = int.from_bytes(hashlib.sha256(app_id.encode()).digest()[:8], "big")
    uid = values["UID_BASE"] + digest % values["UID_SPAN"]
    return uid, uid


def check_distinct_ids(app_ids):
    """Return None when the given extensions' worker uids differ; else
    ImproperlyConfigured naming the two (change UID_BASE or UID_SPAN)."""
    seen = {}
    for app_id in app_ids:
        uid = worker_ids(app_id)[0]
        if uid in seen and seen[uid] != app_id:
            raise ImproperlyConfigured(
                f"{SETTING}: extensions {seen[uid]!r} and {app_id!r} derive the same "
                f"worker uid {uid}; change UID_BASE or UID_SPAN"
            )
        seen[uid] = app_id
