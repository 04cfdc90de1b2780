"""The confinement of an isolated extension's worker processes.

A :class:`Sandbox` is opened once per extension by whatever spawns its
workers; :meth:`Sandbox.launch` turns a worker's command into a
:class:`Launch` — the arguments, environment and flags ``subprocess.Popen``
needs to start it confined::

    with Sandbox(app_id, extension_dir, gateway_url) as sandbox:
        launch = sandbox.launch([sys.executable, "-m", "apps.runtime.worker"],
                                {"IMPERAL_WORKER_APP": app_id, ...})
        process = subprocess.Popen(**launch.popen_kwargs(), stdout=..., stderr=...)

What a worker gets, on every host: an empty environment plus PATH, LANG,
HOME, the runtime's ``IMPERAL_WORKER_*`` and the extension's own
``IMPERAL_EXTENSION_ENV`` variables; OS limits; a session of its own; no
inherited descriptors; its extension's directory as working directory and
only the worker's own package on ``sys.path``. On Linux as root, also: a
user of its own, the platform's files and other processes hidden (a mount
and a PID namespace), and a network namespace whose only ways out are the gateway and
the egress proxy. What the host does not allow is stated by
:meth:`Sandbox.confinements` (and :func:`host_confinements` for ``ext
list``), never skipped silently; ``IMPERAL_SANDBOX['MODE'] = "strict"``
refuses to start a worker instead.
"""

import hashlib
import logging
import os
import resource
import sys
import urllib.parse
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from apps.common.backends import backend_class

from . import hostfs
from .host import Confinement, host_support
from .netns import WorkerNetwork
from .sandbox_settings import (
    CONFINEMENTS,
    GATEWAY_VAR,
    LANG,
    MINIMAL,
    MINIMAL_PATH,
    NO_PROXY_VARS,
    PROXY_VARS,
    SETTING,
    STRICT,
    WORKER_PREFIX,
    SandboxUnavailable,
    check_distinct_ids,
    current_limits,
    extension_env,
    sandbox_settings,
    worker_ids,
)

__all__ = [
    "CONFINEMENTS",
    "Launch",
    "Sandbox",
    "SandboxUnavailable",
    "check_distinct_ids",
    "extension_env",
    "host_confinements",
    "worker_ids",
]

logger = logging.getLogger(__name__)


def instance_key():
    """Return a short name of this platform instance (its var/ directory)."""
    return hashlib.sha256(str(settings.VAR_DIR).encode()).hexdigest()[:10]


def host_confinements(mode=None):
    """Return the Confinements a worker started now would get on this host,
    each with its statement (for ``ext list``, the admin and the docs)."""
    mode = mode or sandbox_settings()["MODE"]
    return plan(host_support(), mode)


def plan(support, mode):
    """Return [Confinement] of ``support`` (a HostSupport) in ``mode``, in CONFINEMENTS order."""
    full = mode != MINIMAL
    user = full and support.can_switch_user
    files = full and support.can_hide_files
    network = full and support.can_isolate_network
    return [
        Confinement(
            "environment",
            True,
            "an empty environment plus PATH, LANG, HOME, IMPERAL_WORKER_* and the "
            "extension's IMPERAL_EXTENSION_ENV; only the worker package on sys.path",
        ),
        Confinement(
            "limits",
            True,
            "RLIMIT_AS, RLIMIT_CPU, RLIMIT_NOFILE, RLIMIT_CORE=0"
            + (", RLIMIT_NPROC per extension user" if user else "")
            + "; a session of its own; no inherited descriptors",
        ),
        Confinement(
            "user",
            user,
            "its own unprivileged uid and gid, no supplementary groups, no "
            "capabilities, no_new_privs"
            if user
            else _why_not(mode, support, "switch user", support.user_blocker),
        ),
        Confinement(
            "files",
            files,
            "var/, the platform's code, root's and users' homes, /tmp and the "
            "PostgreSQL and Redis socket directories hidden; a PID namespace of "
            "its own, where no other process is seen or signalled"
            if files
            else _why_not(mode, support, "hide files", support.files_blocker),
        ),
        Confinement(
            "network",
            network,
            "a network namespace whose only ways out are the gateway and the "
            "egress proxy" + ("" if files else UNIX_SOCKETS_OPEN)
            if network
            else _why_not(mode, support, "isolate the network", support.net_blocker),
        ),
    ]


# A unix socket is reached by its path, whatever the network namespace.
UNIX_SOCKETS_OPEN = (
    "; but unix sockets (PostgreSQL's, Redis's) stay reachable by path: files "
    "is not in force"
)


def _why_not(mode, support, what, blocker):
    if mode == MINIMAL:
        return f"not in force: {SETTING}['MODE'] is minimal"
    return f"not in force: cannot {what} here ({blocker})"


@dataclass(frozen=True)
class Launch:
    """What ``subprocess.Popen`` needs to start one confined worker."""

    args: tuple
    env: dict
    cwd: str
    preexec_fn: object = None

    def popen_kwargs(self):
        """Return Popen's keyword arguments (add stdout/stderr/stdin as needed)."""
        kwargs = {
            "args": list(self.args),
            "env": dict(self.env),
            "cwd": self.cwd,
            "close_fds": True,
            "start_new_session": True,  # the deadline kills the whole group
        }
        if self.preexec_fn is not None:
            kwargs["preexec_fn"] = self.preexec_fn
        return kwargs


class Sandbox:
    """The confinement of one extension's workers: open once, launch many.

    ``directory`` is the extension's own directory (the worker's cwd);
    ``gateway_url`` the platform's gateway as this host reaches it (http);
    ``python_path`` directories put on the worker's sys.path after its own
    package (e.g. the parent of a package-path entry's top package), exposed
    read-only like ``directory``.
    ``proxy`` (tests: with a fake DNS) replaces the egress proxy the settings name;
    ``support`` the probed HostSupport (tests: a host that lacks something).
    """

    # The platform's code a worker may import: its own package, nothing else.
    worker_packages = hostfs.WORKER_PACKAGES

    def __init__(
        self,
        app_id,
        directory,
        gateway_url,
        *,
        python_path=(),
        proxy=None,
        support=None,
    ):
        self.app_id = app_id
        self.directory = os.path.realpath(directory)
        self.python_path = tuple(os.path.realpath(path) for path in python_path)
        self.gateway_url = gateway_url
        self.values = sandbox_settings()
        self.limits = current_limits()
        self.env = extension_env(app_id)
        self.support = support or host_support()
        self._proxy = proxy
        self._confinements = plan(self.support, self.values["MODE"])
        self.network = None
        self.root = None
        self.code = None
        self.home = None
        self.uid = self.gid = None

    def confinements(self):
        """Return [Confinement] in force (or not, with why) for this extension's workers."""
        return list(self._confinements)

    def in_force(self, name):
        """Return whether confinement ``name`` (one of CONFINEMENTS) is in force."""
        return next(c.in_force for c in self._confinements if c.name == name)

    def open(self):
        """Prepare the host for this extension's workers; return self.

        Raises SandboxUnavailable in strict mode when a confinement is not
        in force; ImproperlyConfigured for a bad setting or gateway URL.
        """
        missing = [c for c in self._confinements if not c.in_force]
        if missing and self.values["MODE"] == STRICT:
            raise SandboxUnavailable(
                f"{SETTING}['MODE'] is strict and extension {self.app_id!r} would run "
                + "; ".join(f"without {c.name} ({c.detail})" for c in missing)
            )
        for confinement in missing:
            logger.warning(
                "worker sandbox of %s: %s %s",
                self.app_id,
                confinement.name,
                confinement.detail,
            )
        self.root = hostfs.sandbox_root(self.values["ROOT"], instance_key())
        self.code = hostfs.stage_worker_code(self.root, self.worker_packages)
        if self.in_force("user"):
            self.uid, self.gid = worker_ids(self.app_id, self.values)
        self.home = hostfs.worker_home(self.root, self.app_id, self.uid, self.gid)
        if self.in_force("user"):
            hostfs.protect_platform_files(settings.VAR_DIR)
        if self.in_force("network"):
            self._open_network()
        return self

    def _open_network(self):
        proxy = self._proxy or self._settings_proxy()
        network = WorkerNetwork(
            f"imperal-{instance_key()}-{_short(self.app_id)}",
            split_gateway(self.gateway_url),
            proxy.serve,
        )
        try:
            self.network = network.open()
        except OSError as exc:
            detail = f"not in force: the namespace could not be made ({exc})"
            if self.values["MODE"] == STRICT:
                raise SandboxUnavailable(
                    f"{SETTING}['MODE'] is strict and extension {self.app_id!r}'s "
                    f"network is {detail}"
                ) from exc
            logger.warning("worker sandbox of %s: network %s", self.app_id, detail)
            self._confinements = [
                Confinement("network", False, detail) if c.name == "network" else c
                for c in self._confinements
            ]

    def _settings_proxy(self):
        setting = f"{SETTING}['EGRESS_PROXY']"
        return backend_class(setting, self.values["EGRESS_PROXY"], "EgressProxy")(
            self.app_id
        )

    def close(self):
        """Stop this extension's relays and remove its namespace; return None."""
        if self.network is not None:
            self.network.close()
            self.network = None

    def __enter__(self):
        return self.open()

    def __exit__(self, *exc):
        self.close()

    def launch(self, command, worker_env):
        """Return the Launch of ``command`` (argv list) confined, with ``worker_env``
        (IMPERAL_WORKER_* variables only; ValueError naming any other)."""
        if self.root is None:
            raise RuntimeError(f"open() the sandbox of {self.app_id!r} before launch()")
        for name in worker_env:
            if not name.startswith(WORKER_PREFIX):
                raise ValueError(
                    f"a worker's own variables start with {WORKER_PREFIX!r}; got {name!r}"
                )
        args = list(command)
        preexec = None
        support = self.support
        own_user = self.uid is not None
        rlimits = self.limits.rlimits(own_user=own_user)
        if support.tools.get("prlimit"):
            args = hostfs.prlimit_args(support.tools["prlimit"], rlimits) + args
        else:
            preexec = _RlimitSetter(rlimits)
        if self.in_force("files"):  # a PID namespace: its pid 1 runs the worker
            args = hostfs.init_args(support.tools["sh"]) + args
        if own_user:
            args = (
                hostfs.setpriv_args(support.tools["setpriv"], self.uid, self.gid) + args
            )
        if self.in_force("files"):
            plan = hostfs.MountPlan.for_worker(
                var_dir=settings.VAR_DIR,
                base_dir=settings.BASE_DIR,
                exposed=self._exposed_paths(),
                workdir=self.directory,
            )
            args = plan.args(support.tools["unshare"], support.tools["sh"]) + args
        if self.network is not None:
            args = self.network.enter_args(support.tools["nsenter"]) + args
        return Launch(
            tuple(args), self._environment(worker_env), self.directory, preexec
        )

    def _exposed_paths(self):
        """Return [(path, read_only)] a worker needs even under a hidden directory."""
        prefixes = {sys.base_prefix, sys.prefix, os.path.dirname(sys.executable)}
        exposed = [(os.path.realpath(path), True) for path in sorted(prefixes)]
        exposed += [(self.code, True), (self.directory, True), (self.home, False)]
        exposed += [(path, True) for path in self.python_path]
        return exposed

    def _environment(self, worker_env):
        env = {"PATH": MINIMAL_PATH, "LANG": LANG, "HOME": self.home}
        env.update(self.env)
        env.update(worker_env)
        env["PYTHONPATH"] = os.pathsep.join((self.code, *self.python_path))
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        if self.network is not None:
            env[GATEWAY_VAR] = self.network.gateway_url
            for name in PROXY_VARS:
                env[name] = self.network.proxy_url
            for name in NO_PROXY_VARS:
                env[name] = self.network.no_proxy
        else:
            env[GATEWAY_VAR] = self.gateway_url
        return env


class _RlimitSetter:
    """preexec_fn where prlimit(1) is missing: set the limits in the child."""

    def __init__(self, rlimits):
        self.rlimits = rlimits

    def __call__(self):
        for which, pair in self.rlimits.items():
            resource.setrlimit(which, pair)


def split_gateway(url):
    """Return (host, port) of an http gateway URL; ImproperlyConfigured if not one."""
    parts = urllib.parse.urlsplit(url or "")
    if parts.scheme != "http" or not parts.hostname:
        raise ImproperlyConfigured(
            f"a worker's gateway must be an http://host:port URL, got {url!r}"
        )
    return parts.hostname, parts.port or 80


def _short(app_id):
    return hashlib.sha256(app_id.encode()).hexdigest()[:8]
