"""manage.py run_workers — supervise worker pools of every isolated extension."""

import json
import os
import signal
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.extensions.registry import get_registry
from apps.extensions.runtimes import is_isolated
from apps.runtime.supervisor import Supervisor


def isolated_extensions(only=None):
    """Return [(app_id, entry)] of the loaded isolated extensions (``only`` one)."""
    found = [
        (loaded.app_id, loaded.entry)
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

    def handle(self, *args, size=None, gateway=None, exit_with_parent=False, **options):
        self.supervise(isolated_extensions(), size, gateway, exit_with_parent)

    def supervise(self, extensions, size, gateway, exit_with_parent=False):
        if size is not None and not 1 <= size <= 64:
            raise CommandError(f"--size must be from 1 to 64, got {size}", returncode=2)
        if not extensions:
            self.stdout.write(json.dumps({"isolated": [], "message": "nothing to run"}))
            self.stdout.flush()
            if exit_with_parent:
                # A sibling of the web server waits for it, as it would for workers.
                _wait_for_parent(os.getppid())
            return
        supervisor = Supervisor(
            extensions, gateway_url=gateway, size=size, log_dir=str(settings.VAR_DIR)
        )
        signal.signal(signal.SIGTERM, supervisor.stop)
        signal.signal(signal.SIGINT, supervisor.stop)
        self.stdout.write(
            json.dumps(
                {
                    "isolated": [app_id for app_id, _ in extensions],
                    "gateway": supervisor.gateway_url,
                    "workers_per_extension": supervisor.pools[0].size,
                }
            )
        )
        self.stdout.flush()
        supervisor.run(parent=os.getppid() if exit_with_parent else None)


def _wait_for_parent(parent, poll=1.0):
    """Return when the process that started this one has gone, or on SIGTERM/SIGINT."""
    stopped = []
    signal.signal(signal.SIGTERM, lambda *args: stopped.append(True))
    signal.signal(signal.SIGINT, lambda *args: stopped.append(True))
    while not stopped and os.getppid() == parent:
        time.sleep(poll)
