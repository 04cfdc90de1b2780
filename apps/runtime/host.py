"""What this host lets the sandbox do: the operating system, the user, the tools.

The tools are util-linux's and iproute2's, the ones an operator already knows
and can run by hand: ``ip netns`` (named network namespaces), ``nsenter``
(start a process inside one), ``unshare`` (a mount namespace of its own),
``setpriv`` (drop to a uid with no groups, capabilities or new privileges)
and ``prlimit`` (set limits, then exec). Probed once per process.
"""

import functools
import os
import shutil
import sys
from dataclasses import dataclass, field

TOOLS = ("ip", "nsenter", "unshare", "setpriv", "prlimit", "sh", "mount")
# Where root finds them even when the platform's own PATH is short.
SBIN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class Confinement:
    """One confinement of a worker: whether it is in force, and what it means here."""

    name: str
    in_force: bool
    detail: str

    def as_dict(self):
        return {"name": self.name, "in_force": self.in_force, "detail": self.detail}


@dataclass(frozen=True)
class HostSupport:
    """The facts the sandbox's choices rest on."""

    linux: bool
    root: bool
    tools: dict = field(default_factory=dict)

    def _missing(self, *names):
        return [name for name in names if not self.tools.get(name)]

    def _blocker(self, *names):
        if not self.linux:
            return f"{sys.platform} is not Linux"
        if not self.root:
            return f"the platform runs as uid {os.geteuid()}, not root"
        missing = self._missing(*names)
        if missing:
            return f"{', '.join(missing)} not found on PATH"
        return None

    @property
    def user_blocker(self):
        return self._blocker("setpriv")

    @property
    def files_blocker(self):
        return self._blocker("unshare", "sh", "mount")

    @property
    def net_blocker(self):
        return self._blocker("ip", "nsenter")

    @property
    def can_switch_user(self):
        return self.user_blocker is None

    @property
    def can_hide_files(self):
        return self.files_blocker is None

    @property
    def can_isolate_network(self):
        return self.net_blocker is None


@functools.cache
def host_support():
    """Return this host's HostSupport (cached: the host does not change under us)."""
    return HostSupport(
        linux=sys.platform.startswith("linux"),
        root=hasattr(os, "geteuid") and os.geteuid() == 0,
        tools={name: shutil.which(name, path=SBIN_PATH) for name in TOOLS},
    )


def process_alive(pid):
    """Return whether process ``pid`` runs: it exists (``kill(pid, 0)``; another
    user's answers EPERM) and is not a zombie, exited but not yet reaped."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True  # no /proc (or hidden): kill(0) said it exists


def start_time(pid):
    """Return process ``pid``'s start time in clock ticks since boot (None without
    /proc, or when it has gone)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return int(handle.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None
