"""manage.py run_workers — supervise worker pools of every isolated extension."""

import json
import os
import signal
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.extensions.registry import get_registry
from apps.extensions.runtimes import is_isolated
from apps.runtime.supervisor import Supervisor, WatchedProcess


def isolated_extensions(only=None):
    """Return [(app_id, entry, directory)] of the loaded isolated extensions
    (``only`` one)."""
    found = [
        (loaded.app_id, loaded.entry, str(loaded.root) if loaded.root else None)
        for loaded in get_registry()
        if is_isolated(loaded) and (only is None or loaded.app_id == only)
    ]
    return found


class Command(BaseCommand):
    help = (
        "Run and supervise the worker processes of every isolated extension "
        "(IMPERAL_EXTENSION_RUNTIME): a pool each, respawned on exit, killed at "
        "a call's deadline. Exits at once when there is none."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--size",
            type=int,
            default=None,
            help="workers per extension (IMPERAL_RUNTIME_POOL_SIZE)",
        )
        parser.add_argument(
            "--gateway",
            default=None,
            help="gateway URL workers use (IMPERAL_RUNTIME_GATEWAY_URL)",
        )
        parser.add_argument(
            "--exit-with-parent",
            action="store_true",
            help="stop when the process that started this one exits",
        )
        parser.add_argument(
            "--exit-with",
            type=int,
            default=None,
            metavar="PID",
            help="stop when process PID exits (serve.sh: the web server)",
        )

    def handle(self, *args, size=None, gateway=None, **options):
        self.supervise(isolated_extensions(), size, gateway, watched(options))

    def supervise(self, extensions, size, gateway, watch=None):
        """Run the pools of ``extensions``; stop on SIGTERM/SIGINT or when process
        ``watch`` exits (with nothing to run, just wait for that)."""
        if size is not None and not 1 <= size <= 64:
            raise CommandError(f"--size must be from 1 to 64, got {size}", returncode=2)
        if not extensions:
            self.stdout.write(json.dumps({"isolated": [], "message": "nothing to run"}))
            self.stdout.flush()
            if watch is not None:
                # A sibling of the web server lives as long as it, workers or not.
                _wait_for(watch)
            return
        supervisor = Supervisor(
            extensions, gateway_url=gateway, size=size, log_dir=str(settings.VAR_DIR)
        )
        signal.signal(signal.SIGTERM, supervisor.stop)
        signal.signal(signal.SIGINT, supervisor.stop)
        self.stdout.write(
            json.dumps(
                {
                    "isolated": [found[0] for found in extensions],
                    "gateway": supervisor.gateway_url,
                    "workers_per_extension": supervisor.pools[0].size,
                }
            )
        )
        self.stdout.flush()
        supervisor.run(parent=watch)


def watched(options):
    """Return the pid --exit-with or --exit-with-parent names, or None."""
    if options.get("exit_with") is not None:
        return options["exit_with"]
    return os.getppid() if options.get("exit_with_parent") else None


def _wait_for(pid, poll=1.0):
    """Return when process ``pid`` has gone, or on SIGTERM/SIGINT."""
    stopped = []
    signal.signal(signal.SIGTERM, lambda *args: stopped.append(True))
    signal.signal(signal.SIGINT, lambda *args: stopped.append(True))
    watched_process = WatchedProcess(pid)
    while not stopped and watched_process.alive():
        time.sleep(poll)
