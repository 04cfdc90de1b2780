"""The files side of the sandbox: the directories it prepares on the host, and the
private view of the filesystem and processes a worker gets (a mount namespace
and a PID namespace).

A worker's view (Linux, root): a PID namespace of its own, whose ``/proc``
shows only the worker's own processes (and ``hidepid=2``); an empty tmpfs
over everything the platform keeps for itself or another user owns —
``var/``, the platform's code in the checkout, root's and users' homes,
``/tmp`` and the PostgreSQL and Redis socket directories (a unix socket is
reached by path, whatever the network namespace); and, bound back read-only,
only what it needs from under them: the interpreter, the staged worker
package, its extension's directory, plus its own home read-write. Built with
``unshare --mount --pid --fork`` and a short ``sh`` script of ``mount``
commands, run as root before the user is dropped. The namespace's pid 1 is
:func:`init_args`'s ``sh``, started once the user is dropped, which runs the
worker as its child.
"""

import contextlib
import hashlib
import logging
import os
import resource
import shlex
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

# (path, writable): hidden under an empty tmpfs; a writable one is the worker's own.
HIDDEN_DIRS = (
    ("/root", False),
    ("/home", False),
    ("/tmp", True),
    ("/var/tmp", True),
    ("/dev/shm", True),
    ("/run/postgresql", False),
    ("/var/run/postgresql", False),
    ("/run/redis", False),
    ("/var/run/redis", False),
    ("/run/user", False),
)
# The platform's own parts of the checkout (BASE_DIR): its code and settings.
HIDDEN_CHECKOUT_DIRS = ("apps", "imperal_platform")
HIDDEN_CHECKOUT_FILES = (".env",)
PRIVATE_TMP_BYTES = 64 << 20
# Where the whole tree is held while the view is built: outside every hidden path.
HOLD_DIR = "/run/imperal-sandbox-hold"
# The worker's own code: these packages of this checkout, copied where it can read
# them; beside the worker itself, rule modules of plain Python it applies as the
# platform does (pyproject's "worker-rules" contract keeps them free of Django).
WORKER_PACKAGES = (
    "apps.runtime.worker",
    "apps.notifications.rules",
    "apps.common.errors",
)
CHECKOUT = Path(__file__).resolve().parent.parent.parent
PRLIMIT_OPTIONS = {
    resource.RLIMIT_AS: "--as",
    resource.RLIMIT_CPU: "--cpu",
    resource.RLIMIT_NOFILE: "--nofile",
    resource.RLIMIT_NPROC: "--nproc",
    resource.RLIMIT_CORE: "--core",
}


def sandbox_root(configured, instance):
    """Return the directory of workers' homes and staged code (created 0711)."""
    root = Path(configured or f"/tmp/imperal-sandbox-{instance}")
    root.mkdir(mode=0o711, parents=True, exist_ok=True)
    os.chmod(root, 0o711)
    return root


def stage_worker_code(root, packages=WORKER_PACKAGES):
    """Copy ``packages`` (dotted; a package directory or a module, with empty parent
    packages) under ``root``; return the directory to put on the worker's
    PYTHONPATH, readable by every worker user.

    The directory is named by a digest of what it holds and never changed once
    made: workers started from an older copy keep theirs while a newer one is
    staged beside it.
    """
    sources = []
    for dotted in packages:
        source = _source_of(dotted)
        if source is None:
            logger.warning("worker sandbox: no %s in %s to stage", dotted, CHECKOUT)
            continue
        sources.append((dotted.split("."), source))
    digest = hashlib.sha256()
    for parts, source in sources:
        for path in _files_of(source):
            digest.update(
                f"{'.'.join(parts)}:{path.relative_to(source.parent)}".encode()
            )
            digest.update(path.read_bytes())
    target = root / f"code-{digest.hexdigest()[:16]}"
    if target.is_dir():
        return str(target)
    building = Path(tempfile.mkdtemp(prefix="staging-", dir=root))
    for parts, source in sources:
        for depth in range(1, len(parts)):
            package = building.joinpath(*parts[:depth])
            package.mkdir(parents=True, exist_ok=True)
            (package / "__init__.py").touch()
        destination = building.joinpath(*parts[:-1], source.name)
        for path in _files_of(source):
            copy = (
                destination / path.relative_to(source)
                if source.is_dir()
                else destination
            )
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, copy)
    _make_readable(building)
    try:
        building.rename(target)
    except OSError:  # staged meanwhile by another process: theirs is the same
        shutil.rmtree(building, ignore_errors=True)
    return str(target)


def _source_of(dotted):
    path = CHECKOUT.joinpath(*dotted.split("."))
    if path.is_dir():
        return path
    if path.with_suffix(".py").is_file():
        return path.with_suffix(".py")
    return None


def _files_of(source):
    if source.is_file():
        return [source]
    return sorted(
        path
        for path in source.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    )


def _make_readable(top):
    for directory, _, files in os.walk(top):
        os.chmod(directory, 0o755)
        for name in files:
            os.chmod(os.path.join(directory, name), 0o644)


def worker_home(root, app_id, uid=None, gid=None):
    """Return the extension's workers' HOME (0700, theirs when they have a user)."""
    homes = root / "home"
    homes.mkdir(mode=0o711, exist_ok=True)
    home = homes / hashlib.sha256(app_id.encode()).hexdigest()[:16]
    home.mkdir(mode=0o700, exist_ok=True)
    if uid is not None:
        os.chown(home, uid, gid)
    return str(home)


def protect_platform_files(var_dir):
    """Make ``var_dir`` 0700 (its databases, keys and caches then closed to every
    other user, even where no mount namespace hides them); return what changed."""
    path = Path(var_dir)
    mode = stat.S_IMODE(path.stat().st_mode)
    if not mode & 0o077:
        return []
    os.chmod(path, mode & 0o700)
    change = f"{path}: {mode:o} -> {mode & 0o700:o}"
    logger.warning("worker sandbox: closed %s to other users", change)
    return [change]


def prlimit_args(prlimit, rlimits):
    """Return util-linux ``prlimit`` arguments setting ``rlimits`` ({resource: (soft, hard)})."""
    options = [
        f"{PRLIMIT_OPTIONS[which]}={soft}:{hard}"
        for which, (soft, hard) in rlimits.items()
    ]
    return [prlimit, *options, "--"]


def setpriv_args(setpriv, uid, gid):
    """Return util-linux ``setpriv`` arguments dropping to ``uid``/``gid`` for good."""
    return [
        setpriv,
        f"--reuid={uid}",
        f"--regid={gid}",
        "--clear-groups",
        "--no-new-privs",
        "--inh-caps=-all",
        "--bounding-set=-all",
        "--",
    ]


def init_args(sh):
    """Return the argument prefix of a PID namespace's pid 1: a ``sh`` that runs the
    rest of the command as its child and waits for it, reaping orphans meanwhile.

    Not the worker itself as pid 1: a signal whose action is the default never
    reaches a namespace's init (RLIMIT_CPU's SIGXCPU would not stop it), and an
    init must reap what its children leave behind.
    """
    # sh sets PWD when it starts: the worker's environment is not the init's.
    return [sh, "-c", 'unset OLDPWD PWD\n"$@" &\nwait $!', "imperal-init"]


@dataclass(frozen=True)
class MountPlan:
    """A worker's private view of the filesystem and processes, as one ``unshare
    --mount --pid`` command: the namespace's /proc shows its own processes only."""

    hidden: tuple  # (directory, writable)
    hidden_files: tuple
    exposed: tuple  # (path, read_only), each under a hidden directory
    workdir: str

    @classmethod
    def for_worker(cls, *, var_dir, base_dir, exposed, workdir):
        """Return the plan hiding HIDDEN_DIRS, ``var_dir`` and the checkout's
        platform parts, binding back the ``exposed`` [(path, read_only)] under them."""
        base = Path(base_dir)
        candidates = [*HIDDEN_DIRS, (str(var_dir), False)]
        candidates += [(str(base / name), False) for name in HIDDEN_CHECKOUT_DIRS]
        hidden = {}
        for path, writable in sorted(candidates, key=lambda item: len(item[0])):
            real = os.path.realpath(path)
            if os.path.isdir(real) and not _under_any(real, hidden):
                hidden[real] = writable
        files = tuple(
            str(base / name)
            for name in HIDDEN_CHECKOUT_FILES
            if (base / name).is_file()
        )
        under = tuple(
            sorted(
                {(path, ro) for path, ro in exposed if _under_any(path, hidden)},
                key=lambda item: len(item[0]),
            )
        )
        return cls(tuple(hidden.items()), files, under, os.path.realpath(workdir))

    def script(self):
        """Return the sh script (run as root in the new mount namespace) that builds the view."""
        hold = shlex.quote(HOLD_DIR)
        lines = ["set -e", f"mount --rbind / {hold}"]
        lines.append("mount -t proc -o hidepid=2,nosuid,nodev,noexec proc /proc")
        for path, writable in self.hidden:
            options = (
                f"size={PRIVATE_TMP_BYTES},mode=1777"
                if writable
                else "size=64k,mode=755"
            )
            lines.append(
                f"mount -t tmpfs -o {options},nosuid,nodev imperal-hidden {shlex.quote(path)}"
            )
        for path in self.hidden_files:
            lines.append(f"mount --bind /dev/null {shlex.quote(path)}")
        for path, read_only in self.exposed:
            quoted = shlex.quote(path)
            lines.append(f"mkdir -p {quoted}")
            lines.append(f"mount --bind {shlex.quote(HOLD_DIR + path)} {quoted}")
            if read_only:
                lines.append(f"mount -o remount,bind,ro,nosuid,nodev {quoted}")
        lines += [
            f"umount -l {hold}",
            f"cd {shlex.quote(self.workdir)}",
            "unset OLDPWD PWD",  # cd's, not the worker's
            'exec "$@"',
        ]
        return "\n".join(lines)

    def args(self, unshare, sh):
        """Return the argument prefix running the rest of the command inside the view."""
        with contextlib.suppress(FileExistsError):
            os.mkdir(HOLD_DIR, 0o700)
        return [
            unshare,
            "--mount",
            "--propagation",
            "private",
            "--pid",
            "--fork",
            "--kill-child",
            "--",
            sh,
            "-c",
            self.script(),
            "imperal-sandbox",
        ]


def _under_any(path, hidden):
    return any(path == top or path.startswith(top.rstrip("/") + "/") for top in hidden)
